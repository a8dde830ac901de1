/**
 * Least privilege with one consent and one sign-in, over HTTP on both forms: the admin's sign-in
 * sets up the app's role group, the onboarding succeeds with the app holding only that group (no
 * Exchange Administrator), every setup write is in the audit trail as the admin's; a declined or
 * refused setup ends `awaiting_permissions` with the script and nothing half-made; the admin's
 * delegated token is nowhere in the table, the logs or the executions.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { ROLE_GROUP_NAME } from "../functions/domain/permissions-script.ts";
import { TestBrowser } from "./support/browser.ts";
import { type FormHandle, form, type Json, startForm } from "./support/form.ts";

const PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const REQUEST = { region: "us", outboundGateway: true } as const;
const isSignIn = (url: URL) => url.pathname.endsWith("/oauth2/v2.0/authorize");
const hasCode = (url: URL) => url.searchParams.has("code");

async function scan(doc: ReturnType<typeof createDocumentClient>, table: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Every tenant of this suite (the simulator lists the tokens its admins' sign-ins were issued), and all output. */
const seen = { tenants: [] as string[], output: [] as string[] };

describe("least privilege set up by the admin's sign-in", () => {
  let rt: FormHandle;
  let partnerKey: string;
  const tableName = `test-${randomUUID()}`;
  const realStdout = process.stdout.write.bind(process.stdout);
  const realStderr = process.stderr.write.bind(process.stderr);
  const CONSOLE_LEVELS = ["log", "info", "warn", "error", "debug"] as const;
  const realConsole = Object.fromEntries(CONSOLE_LEVELS.map((l) => [l, console[l]])) as Pick<
    Console,
    (typeof CONSOLE_LEVELS)[number]
  >;

  beforeAll(async () => {
    // Observe (never change) what the local form prints (the AWS form keeps its own log).
    const tee =
      (real: typeof realStdout) =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        seen.output.push(String(chunk));
        return (real as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
      };
    process.stdout.write = tee(realStdout) as typeof process.stdout.write;
    process.stderr.write = tee(realStderr) as typeof process.stderr.write;
    // The test runner takes console.* before it reaches stdout: watch it too.
    for (const level of CONSOLE_LEVELS) {
      const real = realConsole[level];
      console[level] = (...args: unknown[]) => {
        seen.output.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
        real(...args);
      };
    }
    // INFO: every line the service would log is searched for the token (the AWS form's own log).
    rt = await startForm({
      logLevel: "INFO",
      ...(form === "local" && {
        env: {
          DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
          TABLE_NAME: tableName,
          DRIFT_CHECK_INTERVAL: "0",
        },
      }),
    });
    partnerKey = (await rt.createPartner("Least privilege MSP")).apiKey;
  });
  afterAll(async () => {
    await rt?.close();
    process.stdout.write = realStdout as typeof process.stdout.write;
    process.stderr.write = realStderr as typeof process.stderr.write;
    Object.assign(console, realConsole);
  });

  /** A new tenant whose app has consent and no Exchange role; returns its consentUrl. */
  async function newTenant(): Promise<{ tenantId: string; consentUrl: string }> {
    const tenantId = randomUUID();
    seen.tenants.push(tenantId);
    await rt.sim.setAppRoles(tenantId, { exchangeAdministrator: false });
    const created = await rt.call("POST", "/v1/tenants", {
      key: partnerKey,
      body: {
        tenantId,
        customerName: `c-${tenantId.slice(0, 8)}`,
        ndrAddress: (await rt.sim.demo(tenantId)).admin,
        ...REQUEST,
      },
    });
    expect(created.status).toBe(202);
    return { tenantId, consentUrl: created.body.consentUrl };
  }

  const changes = async (tenantId: string): Promise<Json[]> =>
    (await rt.call("GET", `/v1/tenants/${tenantId}/changes?limit=100`, { key: partnerKey })).body.items;

  it("one consent and one sign-in: succeeded, the app holding only the role group with exactly the required roles", async () => {
    const sim = rt.sim;
    const { tenantId, consentUrl } = await newTenant();
    const page = await rt.consent(consentUrl);
    expect(page.status).toBe(200);
    expect(page.html).toContain("holds only the Exchange roles it needs");
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "succeeded",
    );
    const state = await sim.tenant(tenantId);
    expect(state.appExchangeAdministrator).toBe(false);
    const groups = state.roleGroups.filter((g) => g.members.length > 0);
    expect(groups.map((g) => g.name)).toEqual([ROLE_GROUP_NAME]);
    expect([...groups[0]!.roles].sort()).toEqual([...requiredRoles(REQUEST)].sort());
    expect(state.servicePrincipals.map((p) => p.objectId)).toEqual(groups[0]!.members);
    // The setup's writes are in the audit trail as the admin's; the onboarding's as the service's.
    const trail = await changes(tenantId);
    const admin = trail.filter((c: Json) => c.actor === "customer-admin");
    expect(admin.map((c: Json) => c.cmdlet).sort()).toEqual(["New-RoleGroup", "New-ServicePrincipal"]);
    expect(admin.every((c: Json) => c.step === "check-access" && c.outcome === "ok")).toBe(true);
    expect(trail.filter((c: Json) => c.actor === "service").map((c: Json) => c.cmdlet)).toContain(
      "New-JournalRule",
    );
  });

  it("an admin without Exchange rights: awaiting_permissions with the script, nothing made", async () => {
    const sim = rt.sim;
    const { tenantId, consentUrl } = await newTenant();
    await sim.setSignInUser(tenantId, { roles: [PRIVILEGED_ROLE_ADMINISTRATOR] });
    const page = await rt.consent(consentUrl);
    expect(page.status).toBe(200);
    expect(page.html).toContain("could not be set up with your sign-in");
    const tenant = await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"]);
    expect(tenant.status).toBe("awaiting_permissions");
    expect(tenant.missingPermissions.length).toBeGreaterThan(0);
    const script = await fetch(`${rt.url}/v1/tenants/${tenantId}/permissions-script`, {
      headers: { authorization: `Bearer ${partnerKey}` },
    });
    expect(script.status).toBe(200);
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    expect((await sim.tenant(tenantId)).servicePrincipals).toEqual([]);
    expect(await changes(tenantId)).toEqual([]);
  });

  it("a declined Exchange permission: awaiting_permissions, nothing made, no Exchange call as the admin", async () => {
    const sim = rt.sim;
    const { tenantId, consentUrl } = await newTenant();
    await sim.setSignInUser(tenantId, { declineExchange: true });
    const page = await rt.consent(consentUrl);
    expect(page.html).toContain("did not allow Exchange management");
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "awaiting_permissions",
    );
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    expect((await sim.calls(tenantId)).filter((c) => c.service === "exchange" && c.write)).toEqual([]);
  });

  it("'I will run the script' on the page: the sign-in does not ask for Exchange and nothing is set up", async () => {
    const sim = rt.sim;
    const { tenantId, consentUrl } = await newTenant();
    const browser = new TestBrowser();
    const signIn = await browser.submit(await browser.open(consentUrl), {
      choose: { least_privilege: "script" },
      stopAt: isSignIn,
    });
    expect(new URL(signIn.url).searchParams.get("scope")).toBe("openid profile");
    const page = await browser.open(signIn.url);
    expect(page.status).toBe(200);
    expect(page.html).toContain("Consent received");
    expect(page.html).toContain("You chose to run the permissions script");
    expect(page.html).not.toContain("Exchange management");
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "awaiting_permissions",
    );
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    expect(await changes(tenantId)).toEqual([]);
  });

  it("the choice is the page's: a query parameter before the page or after Continue changes nothing", async () => {
    const sim = rt.sim;
    // Before the page: a link carrying least_privilege=script still shows the default, and
    // Continue asks for Exchange.
    const first = await newTenant();
    const toCallback = new URL(
      (await fetch(first.consentUrl, { redirect: "manual" })).headers.get("location")!,
    );
    toCallback.searchParams.set("least_privilege", "script");
    const browser = new TestBrowser();
    const page = await browser.open(toCallback.toString());
    expect(page.status).toBe(200);
    expect(new URL(TestBrowser.formUrl(page)!).searchParams.get("least_privilege")).toBe("setup");
    const signIn = await browser.submit(page, { stopAt: isSignIn });
    expect(new URL(signIn.url).searchParams.get("scope")).toContain("/Exchange.Manage");
    // After Continue: the admin chose the script; setup on the sign-in's answer is ignored.
    const second = await newTenant();
    const admin = new TestBrowser();
    const scriptSignIn = await admin.submit(await admin.open(second.consentUrl), {
      choose: { least_privilege: "script" },
      stopAt: isSignIn,
    });
    const answer = new URL((await admin.open(scriptSignIn.url, { stopAt: hasCode })).url);
    answer.searchParams.set("least_privilege", "setup");
    const bound = await admin.open(answer.toString());
    expect(bound.status).toBe(200);
    expect(bound.html).toContain("You chose to run the permissions script");
    expect(bound.html).not.toContain("Exchange management");
    expect((await rt.waitFor(second.tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "awaiting_permissions",
    );
    expect((await sim.tenant(second.tenantId)).roleGroups).toEqual([]);
    expect(await changes(second.tenantId)).toEqual([]);
  });

  it("a dehydrated organisation: the admin's sign-in enables customization, the run waits in awaiting_permissions with the script; the script and a retry finish", async () => {
    const sim = rt.sim;
    const { tenantId, consentUrl } = await newTenant();
    await sim.setDehydrated(tenantId, true);
    const { hydrationDelayMs } = await sim.config();
    await sim.configure({ hydrationDelayMs: 3_600_000 });
    try {
      const page = await rt.consent(consentUrl);
      expect(page.html).toContain("still preparing your organisation");
      const tenant = await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"]);
      // The app has no role yet: check-access names what is missing (the script gives it).
      expect(tenant).toMatchObject({
        status: "awaiting_permissions",
        error: { code: "M365_PERMISSION_MISSING" },
      });
      expect(tenant.missingPermissions.length).toBeGreaterThan(0);
    } finally {
      await sim.configure({ hydrationDelayMs });
    }
    const trail = await changes(tenantId);
    expect(trail.map((c: Json) => [c.cmdlet, c.actor])).toEqual([
      ["Enable-OrganizationCustomization", "customer-admin"],
    ]);
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    // Exchange is ready; the customer's admin runs the script (as the simulator's control API does).
    await sim.setDehydrated(tenantId, false);
    await sim.setAppRoles(tenantId, { roles: requiredRoles(REQUEST) });
    // The tenant re-checks by itself too (scaled down here): a retry after it went on is a 409.
    const retried = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partnerKey });
    expect([202, 409]).toContain(retried.status);
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "succeeded",
    );
  });

  it("the admin's delegated token is in no table item, log line or execution", async () => {
    const tokens = (await Promise.all(seen.tenants.map((t) => rt.sim.userTokens(t)))).flat();
    expect(tokens.length).toBeGreaterThan(0);
    const [table, executions, output] = await haystacks();
    expect(JSON.parse(table).length).toBeGreaterThan(10);
    for (const token of tokens) {
      // The token's signature alone would be enough to use it: search for that too.
      const signature = token.split(".")[2] ?? token;
      for (const haystack of [table, executions, output]) {
        expect(haystack).not.toContain(token);
        expect(haystack).not.toContain(signature);
      }
    }
  });

  /** The table's items, the executions (input and output) and what the service logged, as text. */
  async function haystacks(): Promise<[string, string, string]> {
    if (rt.aws) {
      const client = createDynamoClient({ endpoint: rt.aws.info.dynamodbUrl!, region: "us-east-1" });
      const tables = (await client.send(new ListTablesCommand({}))).TableNames ?? [];
      const items = (await Promise.all(tables.map((t) => scan(createDocumentClient({ client }), t)))).flat();
      const file = join(rt.aws.dataDir, "aws", "stepfunctions", "executions.jsonl");
      return [JSON.stringify(items), readFileSync(file, "utf8"), rt.logs() ?? ""];
    }
    const doc = createDocumentClient({
      client: createDynamoClient({ endpoint: inject("dynamodbEndpoint"), region: "us-east-1" }),
    });
    const engine = rt.local!.runtime.engine;
    return [
      JSON.stringify(await scan(doc, tableName)),
      JSON.stringify([...engine.executions(), ...engine.driftExecutions()]),
      seen.output.join(""),
    ];
  }
});
