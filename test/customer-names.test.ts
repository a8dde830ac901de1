/**
 * `customerName` is reserved when a tenant is bound, not when a partner asks: over HTTP against
 * the real local runtime (claims, consents through the simulator's Entra), and the migration that
 * reserves the slugs of tenants bound before this rule, against dynalite.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CustomerNames, reserveBoundCustomerNames } from "../functions/adapters/dynamodb/customer-names.ts";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { freshTable } from "./support/dynamodb.ts";
import { type FormHandle, form, type Json, slower, startForm } from "./support/form.ts";

const run = promisify(execFile);
let rt: FormHandle;
let a: { partnerId: string; apiKey: string };
let b: { partnerId: string; apiKey: string };

beforeAll(async () => {
  rt = await startForm();
  [a, b] = await Promise.all([rt.createPartner("a"), rt.createPartner("b")]);
});
afterAll(async () => {
  await rt?.close();
});

const sim = () => rt.sim;
const slug = () => `s-${randomUUID().slice(0, 12)}`;
const writes = async (tenantId: string) =>
  (await sim().calls(tenantId)).filter((c) => c.service === "exchange" && !/^(Get|Test)-/.test(c.operation));

function post(key: string, tenantId: string, customerName: string) {
  return rt.call("POST", "/v1/tenants", {
    key,
    body: { tenantId, customerName, region: "us", ndrAddress: demoMailboxes(tenantId).admin },
  });
}

async function get(key: string, tenantId: string): Promise<Json> {
  const { status, body } = await rt.call("GET", `/v1/tenants/${tenantId}`, { key });
  expect(status).toBe(200);
  return body;
}

async function waitFor(key: string, tenantId: string, statuses: string[]): Promise<Json> {
  for (let i = 0; i < 400 * slower; i++) {
    const t = await get(key, tenantId);
    if (statuses.includes(t.status)) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`tenant ${tenantId} never reached ${statuses.join("/")}`);
}

/** The partner claims the tenant with the slug; the customer's admin consents through its link. */
async function claimAndConsent(key: string, tenantId: string, customerName: string): Promise<Json> {
  const posted = await post(key, tenantId, customerName);
  expect(posted.status, JSON.stringify(posted.body)).toBe(202);
  expect(posted.body.status).toBe("awaiting_consent");
  await rt.consent(posted.body.consentUrl);
  return waitFor(key, tenantId, ["succeeded", "failed"]);
}

describe("customerName is reserved at binding", () => {
  it("squatting: B's claims on unconsented tenants never block A (also after B deletes, or PATCHes away and back)", async () => {
    const [s1, s2, s3] = [slug(), slug(), slug()];
    // B claims random tenants with the slugs; nobody consents.
    expect((await post(b.apiKey, randomUUID(), s1)).status).toBe(202);
    const deleted = randomUUID();
    expect((await post(b.apiKey, deleted, s2)).status).toBe(202);
    expect((await rt.call("DELETE", `/v1/tenants/${deleted}`, { key: b.apiKey })).status).toBe(202);
    const patched = randomUUID();
    expect((await post(b.apiKey, patched, s3)).status).toBe(202);
    for (const name of [slug(), s3]) {
      const res = await rt.call("PATCH", `/v1/tenants/${patched}`, {
        key: b.apiKey,
        body: { customerName: name },
      });
      expect(res.status).toBe(200);
    }
    // A's customers consent: each tenant binds to A and journals to its slug.
    for (const name of [s1, s2, s3]) {
      const tenantId = randomUUID();
      const done = await claimAndConsent(a.apiKey, tenantId, name);
      expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
      expect((await sim().tenant(tenantId)).journalRules[0]?.journalEmailAddress).toBe(
        `${name}@journaling.mxrecord.io`,
      );
    }
  });

  it("a slug of another bound tenant fails the claim at binding with CUSTOMER_NAME_TAKEN, nothing done in the tenant", async () => {
    const name = slug();
    expect((await claimAndConsent(a.apiKey, randomUUID(), name)).status).toBe("succeeded");
    const other = randomUUID();
    const done = await claimAndConsent(b.apiKey, other, name);
    expect(done.status).toBe("failed");
    expect(done.error.code).toBe("CUSTOMER_NAME_TAKEN");
    expect(await writes(other)).toEqual([]);
    // Corrected and retried: a new link, and the tenant binds.
    const fixed = slug();
    expect(
      (await rt.call("PATCH", `/v1/tenants/${other}`, { key: b.apiKey, body: { customerName: fixed } }))
        .status,
    ).toBe(200);
    const retried = await rt.call("POST", `/v1/tenants/${other}/retry`, { key: b.apiKey });
    expect(retried.body.status).toBe("awaiting_consent");
    await rt.consent(retried.body.consentUrl);
    expect((await waitFor(b.apiKey, other, ["succeeded", "failed"])).status).toBe("succeeded");
  });

  it("a tenant bound to you cannot be corrected to a slug another partner's bound tenant holds (409)", async () => {
    const held = slug();
    expect((await claimAndConsent(a.apiKey, randomUUID(), held)).status).toBe("succeeded");
    const tenantId = randomUUID();
    await sim().failNext(tenantId, "New-JournalRule", { kind: "error", status: 400, message: "quota" }, 1);
    expect((await claimAndConsent(b.apiKey, tenantId, slug())).status).toBe("failed");
    const taken = await rt.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: b.apiKey,
      body: { customerName: held },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.detail).toContain("CUSTOMER_NAME_TAKEN");
    const fresh = await rt.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: b.apiKey,
      body: { customerName: slug() },
    });
    expect(fresh.status).toBe(200);
  });

  it("the oracle is gone: a POST or PATCH with a slug another partner's bound tenant holds looks like any other", async () => {
    const held = slug();
    expect((await claimAndConsent(b.apiKey, randomUUID(), held)).status).toBe("succeeded");
    const shape = (r: { status: number; body: Json }) => ({
      status: r.status,
      keys: Object.keys(r.body ?? {}).sort(),
      state: r.body?.status,
      error: r.body?.error,
    });
    const taken = await post(a.apiKey, randomUUID(), held);
    const fresh = await post(a.apiKey, randomUUID(), slug());
    expect(shape(taken)).toEqual(shape(fresh));
    expect(taken.status).toBe(202);
    const patchedTaken = await rt.call("PATCH", `/v1/tenants/${fresh.body.tenantId}`, {
      key: a.apiKey,
      body: { customerName: held },
    });
    const patchedFresh = await rt.call("PATCH", `/v1/tenants/${taken.body.tenantId}`, {
      key: a.apiKey,
      body: { customerName: slug() },
    });
    expect(shape(patchedTaken)).toEqual(shape(patchedFresh));
    expect(patchedTaken.status).toBe(200);
  });

  it("the same tenant moving partner keeps its slug; offboarding for good releases it", async () => {
    const name = slug();
    const tenantId = randomUUID();
    expect((await claimAndConsent(a.apiKey, tenantId, name)).status).toBe("succeeded");
    const moved = await claimAndConsent(b.apiKey, tenantId, name);
    expect(moved.status, JSON.stringify(moved.error)).toBe("succeeded");
    expect((await sim().tenant(tenantId)).journalRules[0]?.journalEmailAddress).toBe(
      `${name}@journaling.mxrecord.io`,
    );
    // Still held by the moved tenant: another tenant cannot bind with it.
    const other = randomUUID();
    expect((await claimAndConsent(a.apiKey, other, name)).error?.code).toBe("CUSTOMER_NAME_TAKEN");
    // B offboards the tenant for good: the slug is free.
    expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key: b.apiKey })).status).toBe(202);
    expect((await waitFor(b.apiKey, tenantId, ["offboarded", "offboarding_failed"])).status).toBe(
      "offboarded",
    );
    expect((await claimAndConsent(a.apiKey, randomUUID(), name)).status).toBe("succeeded");
  });
});

// The migration runs against a table of its own on the local run's dynalite (no API involved).
describe.skipIf(form === "aws")("the migration from claim-time reservations", () => {
  it("reserves the slugs of bound tenants (oldest partner first); a legacy reservation alone holds nothing", async () => {
    const table = await freshTable();
    const ctx = { client: table.docClient, table: table.tableName };
    const names = new CustomerNames(ctx);
    const now = new Date().toISOString();
    const request = (tenantId: string, customerName: string) => ({
      tenantId,
      customerName,
      region: "us" as const,
      outboundGateway: false,
      ndrAddress: "admin@contoso.example",
    });
    const [older, newer, legacyOnly] = [randomUUID(), randomUUID(), randomUUID()];
    await table.store.registerTenant("p_old", request(older, "shared"), "2026-01-01T00:00:00.000Z");
    await table.store.registerTenant("p_new", request(newer, "shared"), "2026-02-01T00:00:00.000Z");
    // What the previous release wrote at claim time: the partner, no tenant.
    await table.docClient.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: "CUSTOMER#shared",
          sk: "CUSTOMER",
          kind: "customerName",
          customerName: "shared",
          partnerId: "p_x",
        },
      }),
    );
    await table.docClient.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: "CUSTOMER#legacy",
          sk: "CUSTOMER",
          kind: "customerName",
          customerName: "legacy",
          partnerId: "p_x",
        },
      }),
    );
    const result = await reserveBoundCustomerNames(ctx, now);
    expect(result).toEqual({ reserved: 1, conflicts: [{ tenantId: newer, customerName: "shared" }] });
    const { Item } = await table.docClient.send(
      new GetCommand({ TableName: table.tableName, Key: { pk: "CUSTOMER#shared", sk: "CUSTOMER" } }),
    );
    expect(Item).toMatchObject({ partnerId: "p_old", tenants: [older] });
    expect(await names.reserve("shared", randomUUID(), "p_other", now)).toBe(false);
    // The partner holding it may use it for another of its tenants.
    expect(await names.reserve("shared", randomUUID(), "p_old", now)).toBe(true);
    // A claim-time reservation with no bound tenant behind it is free.
    expect(await names.reserve("legacy", legacyOnly, "p_other", now)).toBe(true);
    // Idempotent.
    expect((await reserveBoundCustomerNames(ctx, now)).reserved).toBe(1);
    // The one-off for a deployed table does the same, from the command line.
    const { stdout } = await run(process.execPath, ["infra/tools/reserve-customer-names.ts"], {
      env: {
        ...process.env,
        TABLE_NAME: table.tableName,
        DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
        AWS_REGION: "us-east-1",
      },
    });
    expect(stdout).toContain("1 bound tenants hold their customerName.");
    expect(stdout).toContain(`not reserved (an older tenant holds it): ${newer} shared`);
  });

  it("a slug whose tenant's record expired (TTL) is free for another partner", async () => {
    const table = await freshTable();
    const ctx = { client: table.docClient, table: table.tableName };
    const names = new CustomerNames(ctx);
    const now = new Date().toISOString();
    const tenantId = randomUUID();
    await table.store.registerTenant(
      "p_a",
      {
        tenantId,
        customerName: "fabrikam",
        region: "us",
        outboundGateway: false,
        ndrAddress: "x@contoso.example",
      },
      now,
    );
    expect(await names.reserve("fabrikam", tenantId, "p_a", now)).toBe(true);
    expect(await names.reserve("fabrikam", randomUUID(), "p_b", now)).toBe(false);
    // DynamoDB's TTL removes the record.
    await table.docClient.send(
      new DeleteCommand({ TableName: table.tableName, Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" } }),
    );
    expect(await names.reserve("fabrikam", randomUUID(), "p_b", now)).toBe(true);
  });
});
