/**
 * A partner may use one `customerName` for several of its tenants (one customer's tenants): the
 * slug's reservation is written at each binding under a version check, and bindings of the same
 * slug at once must all hold it. Over HTTP on either form (their admins' consents reach the
 * service at the same moment) and on the reservation itself against dynalite.
 * Not in test:aws: there the answers met cold API environments and did not overlap (the old
 * 3-round reservation passed on the AWS form, ~27 s); the local run shows the race.
 */
import { randomUUID } from "node:crypto";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CustomerNames, customerNameKey } from "../functions/adapters/dynamodb/customer-names.ts";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { TestBrowser } from "./support/browser.ts";
import { freshTable } from "./support/dynamodb.ts";
import { type FormHandle, form, startForm } from "./support/form.ts";

/** More bindings at once than the reservation's reads and writes used to allow (3 rounds). */
const AT_ONCE = 6;

let rt: FormHandle;
beforeAll(async () => {
  rt = await startForm();
});
afterAll(async () => {
  await rt?.close();
});

describe("one customerName for several tenants of a partner", () => {
  it("their admins consent at the same time: every tenant is bound and succeeds", async () => {
    const partner = await rt.createPartner("One customer, many tenants");
    const customerName = `c-${randomUUID().slice(0, 12)}`;
    const tenants = Array.from({ length: AT_ONCE }, () => randomUUID() as string);
    const links = await Promise.all(
      tenants.map(async (tenantId) => {
        const posted = await rt.call("POST", "/v1/tenants", {
          key: partner.apiKey,
          body: { tenantId, customerName, region: "us", ndrAddress: demoMailboxes(tenantId).admin },
        });
        expect(posted.status).toBe(202);
        return posted.body.consentUrl as string;
      }),
    );
    // Each admin opens the link, clicks Continue and signs in, one after another...
    const browsers = links.map(() => new TestBrowser());
    const answers: string[] = [];
    for (const [i, link] of links.entries()) {
      const page = await browsers[i]!.open(link);
      const signedIn = await browsers[i]!.submit(page, { stopAt: (url) => url.searchParams.has("code") });
      answers.push(signedIn.url);
    }
    // ...and the sign-ins' answers reach the service at the same moment.
    const pages = await Promise.all(answers.map((url, i) => browsers[i]!.open(url)));
    expect(pages.map((p) => p.status)).toEqual(tenants.map(() => 200));
    await rt.idle(...tenants);
    const ended = await Promise.all(tenants.map((t) => rt.waitFor(t, ["succeeded", "failed"])));
    expect(ended.map((t) => [t.status, t.error?.code])).toEqual(tenants.map(() => ["succeeded", undefined]));
  });
});

// The reservation on its own, on a table of the local run's dynalite.
describe.skipIf(form === "aws")("the slug's reservation", () => {
  it("reserved for many of the partner's tenants at once: every one holds it", async () => {
    const table = await freshTable();
    const names = new CustomerNames({ client: table.docClient, table: table.tableName });
    const now = new Date().toISOString();
    const tenants = Array.from({ length: 12 }, () => randomUUID() as string);
    const reserved = await Promise.all(tenants.map((t) => names.reserve("contoso", t, "p_a", now)));
    expect(reserved).toEqual(tenants.map(() => true));
    const { Item } = await table.docClient.send(
      new GetCommand({ TableName: table.tableName, Key: customerNameKey("contoso") }),
    );
    expect([...(Item?.["tenants"] ?? [])].sort()).toEqual([...tenants].sort());
  });
});
