/**
 * Keeping journaling alive, end to end over HTTP against the simulator, on either form of the
 * service (test/support/form.ts): drift checks (a deleted
 * rule, a disabled rule, an edited connector, a removed NDR mailbox, withdrawn consent), each
 * detected within one check and reported once; remediation with its writes in the audit trail
 * and its daily limit; plan and approval (exactly the plan's writes; a stale plan not applied);
 * and a check of a tenant in sync that makes no write and sends no webhook.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRIFT_PHASES, nextTickOf, tenantPhase } from "../functions/domain/drift-ticks.ts";
import { AREA1, journalAddress } from "../functions/domain/provider.ts";
import { CATCH_UP_TICKS } from "../functions/tasks/drift-schedule.ts";
import type { RemoteSimulatorControl } from "../infra/local/m365-simulator/index.ts";
import { type FormHandle, form, type Json, startForm } from "./support/form.ts";
import { receiveWebhooks, type WebhookReceiver } from "./support/webhook-receiver.ts";

let rt: FormHandle;
let sim: RemoteSimulatorControl;
let partner: { partnerId: string; apiKey: string };
let receiver: WebhookReceiver;

const RULE = AREA1.journalRuleName;
const CONNECTOR = AREA1.connectorName;

beforeAll(async () => {
  // Its own form (the simulator's behaviours are changed below). The AWS form keeps the stack's
  // 6-hour schedule (no DRIFT_CHECK_INTERVAL there): its first tick fires 5 minutes after the
  // start, after this suite.
  rt = await startForm({ env: { DRIFT_CHECK_INTERVAL: "0", DRIFT_REMEDIATIONS_PER_DAY: "2" } });
  sim = rt.sim;
  partner = await rt.createPartner("Drift MSP");
  receiver = await receiveWebhooks(rt, partner.apiKey);
  await onboardAhead();
});

afterAll(async () => {
  await rt?.close();
  receiver?.close();
});

const as = (path: string, method = "GET", body?: unknown) =>
  rt.call(method, path, { key: partner.apiKey, ...(body !== undefined && { body }) });

/** Every tenant this suite registered. */
const tenants: string[] = [];

/**
 * The tenants the cases ask for, onboarded before the first case, 4 at a time (an onboarding
 * takes 4-5 s on the AWS form, most of it waiting). Each case still gets a fresh tenant of its own.
 */
const AHEAD: [extra: Record<string, unknown>, status: string, count: number][] = [
  [{}, "succeeded", 8],
  [{ outboundGateway: true }, "succeeded", 2],
  [{ onDrift: "remediate" }, "succeeded", 2],
  [{ approval: "required" }, "awaiting_approval", 3],
  [{ approval: "required", outboundGateway: true }, "awaiting_approval", 1],
];
const ready = new Map<string, string[]>();
const kindOf = (extra: Record<string, unknown>, status: string) => JSON.stringify([extra, status]);
/** The schedule case's tenant: alone in its ticks among all of the above. */
let aloneTenant: string;

async function onboardAhead(): Promise<void> {
  const jobs = AHEAD.flatMap(([extra, status, count]) =>
    Array.from({ length: count }, () => ({ extra, status, tenantId: randomUUID() as string })),
  );
  tenants.push(...jobs.map((j) => j.tenantId));
  aloneTenant = aloneInItsTicks();
  jobs.push({ extra: {}, status: "succeeded", tenantId: aloneTenant });
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job; job = jobs[next++]) {
      await onboardNow(job.tenantId, job.extra, job.status);
      if (job.tenantId === aloneTenant) continue;
      const kind = kindOf(job.extra, job.status);
      ready.set(kind, [...(ready.get(kind) ?? []), job.tenantId]);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** A fresh tenant onboarded through the API (made ahead, or now), at the end of its run. */
async function onboarded(extra: Record<string, unknown> = {}, status = "succeeded"): Promise<string> {
  const made = ready.get(kindOf(extra, status))?.shift();
  if (made) return made;
  const tenantId = outsideAloneTicks();
  tenants.push(tenantId);
  return await onboardNow(tenantId, extra, status);
}

/**
 * A new tenant id whose phase is not among those the schedule case's tick covers (its own and the
 * ticks it catches up): a succeeded tenant there would share that tick, and the AWS fan-out then
 * spreads the tick's starts over 4 minutes (CI saw that case time out at 180 s once).
 */
function outsideAloneTicks(): string {
  const alone = tenantPhase(aloneTenant);
  const covered = Array.from(
    { length: CATCH_UP_TICKS + 1 },
    (_, back) => (alone - back + DRIFT_PHASES) % DRIFT_PHASES,
  );
  for (;;) {
    const tenantId = randomUUID();
    if (!covered.includes(tenantPhase(tenantId))) return tenantId;
  }
}

async function onboardNow(tenantId: string, extra: Record<string, unknown>, status: string): Promise<string> {
  const { status: code, body } = await as("/v1/tenants", "POST", {
    tenantId,
    customerName: "contoso",
    region: "us",
    ndrAddress: (await sim.demo(tenantId)).admin,
    ...extra,
  });
  expect(code).toBe(202);
  // A new tenant waits for the customer's consent through the partner's link.
  if (body.status === "awaiting_consent") {
    await consentTurn();
    expect((await rt.consent(body.consentUrl)).status).toBe(200);
  }
  expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_approval"])).status).toBe(status);
  return tenantId;
}

/**
 * The AWS form's stage lets the consent callback take 5 requests a second for all browsers (a
 * consent is 3: the link, Continue, the sign-in's answer): consents made ahead start 0.6 s apart.
 */
let nextConsentAt = 0;
async function consentTurn(): Promise<void> {
  if (form !== "aws") return;
  const at = Math.max(Date.now(), nextConsentAt);
  nextConsentAt = at + 600;
  await new Promise((r) => setTimeout(r, at - Date.now()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST .../drift-checks and wait for every workflow (the check, a remediation) to end. */
async function check(tenantId: string): Promise<Json> {
  expect((await as(`/v1/tenants/${tenantId}/drift-checks`, "POST")).status).toBe(202);
  await rt.idle(tenantId);
  return (await as(`/v1/tenants/${tenantId}/drift`)).body;
}

/** The customer admin's own least-privilege setup at consent (their sign-in), not the service's writes. */
const ADMIN_SETUP = new Set([
  "New-ServicePrincipal",
  "New-RoleGroup",
  "New-ManagementRoleAssignment",
  "Add-RoleGroupMember",
]);

/**
 * With `onDrift: remediate`, a check and the run it starts (which checks again as it ends):
 * the drift the first check found, as its `tenant.drift.detected` event carries it.
 */
async function checkRemediated(tenantId: string): Promise<Json> {
  await check(tenantId);
  return (await driftEvents(tenantId)).filter((e) => e.type === "tenant.drift.detected").at(-1)?.data.drift;
}

const writes = async (tenantId: string) =>
  (await sim.calls(tenantId)).filter(
    (c) => c.write && c.service === "exchange" && c.status < 400 && !ADMIN_SETUP.has(c.operation),
  );
const driftEvents = async (tenantId: string) =>
  ((await as(`/v1/tenants/${tenantId}/events?limit=100`)).body.items as Json[]).filter((e) =>
    e.type.startsWith("tenant.drift."),
  );
/** The tenant's webhook deliveries. */
const delivered = async (tenantId: string) => {
  // Deliveries are asynchronous: wait until the workflows and the dispatcher have nothing queued.
  await rt.idle(tenantId);
  await rt.deliveriesIdle();
  return ((await as(`/v1/webhook/deliveries?tenantId=${tenantId}&limit=100`)).body.items as Json[]).length;
};

describe("drift checks", () => {
  it("a tenant in sync: zero writes, zero webhook deliveries, inSync on the tenant", async () => {
    const tenantId = await onboarded();
    const before = { writes: (await writes(tenantId)).length, deliveries: await delivered(tenantId) };
    expect(before.deliveries).toBeGreaterThan(0); // the onboarding's
    const drift = await check(tenantId);
    expect(drift).toMatchObject({ inSync: true, differences: [] });
    expect((await writes(tenantId)).length).toBe(before.writes);
    expect(await delivered(tenantId)).toBe(before.deliveries);
    expect(await driftEvents(tenantId)).toEqual([]);
    expect((await as(`/v1/tenants/${tenantId}`)).body.drift.inSync).toBe(true);
  });

  it("a deleted journal rule: detected within one check, reported once, resolved once", async () => {
    const tenantId = await onboarded();
    await sim.tamper(tenantId, { action: "remove-journal-rule", name: RULE });
    const drift = await check(tenantId);
    expect(drift.inSync).toBe(false);
    expect(drift.differences).toContainEqual({
      step: "journal-rules",
      object: `journal rule "${RULE}"`,
      field: "exists",
      expected: true,
      actual: false,
    });
    await check(tenantId); // still drifting: no second event
    expect((await driftEvents(tenantId)).map((e) => e.type)).toEqual(["tenant.drift.detected"]);
    expect((await as(`/v1/tenants/${tenantId}`)).body.status).toBe("succeeded"); // report only
    expect((await writes(tenantId)).filter((c) => c.operation === "New-JournalRule")).toHaveLength(1);
  });

  it("a disabled journal rule and a removed NDR mailbox are each a difference", async () => {
    const tenantId = await onboarded();
    await sim.tamper(tenantId, { action: "disable-journal-rule", name: RULE });
    expect((await check(tenantId)).differences).toEqual([
      {
        step: "journal-rules",
        object: `journal rule "${RULE}"`,
        field: "enabled",
        expected: true,
        actual: false,
      },
    ]);
    const other = await onboarded();
    await sim.tamper(other, { action: "remove-recipient", address: (await sim.demo(other)).admin });
    const drift = await check(other);
    expect(drift.differences).toEqual([
      expect.objectContaining({ step: "check-access", field: "recipient", actual: "no recipient" }),
    ]);
    expect((await driftEvents(other)).map((e) => e.type)).toEqual(["tenant.drift.detected"]);
  });

  it("an edited connector: its smart hosts and validation are differences", async () => {
    const tenantId = await onboarded({ outboundGateway: true });
    await sim.tamper(tenantId, {
      action: "set-connector",
      name: CONNECTOR,
      changes: { smartHosts: ["mx.evil.example"] },
    });
    const drift = await check(tenantId);
    expect(drift.differences).toContainEqual(
      expect.objectContaining({
        step: "connector",
        field: "smartHosts",
        expected: AREA1.regions.us.smartHosts,
        actual: ["mx.evil.example"],
      }),
    );
    expect(drift.differences).toContainEqual(
      expect.objectContaining({ step: "validate-connector", field: "validated" }),
    );
  });

  it("a connector scoped to transport rules only is a difference (journal reports no longer take it)", async () => {
    const tenantId = await onboarded({ outboundGateway: true });
    await sim.tamper(tenantId, {
      action: "set-connector",
      name: CONNECTOR,
      changes: { isTransportRuleScoped: true },
    });
    const drift = await check(tenantId);
    expect(drift.differences).toContainEqual(
      expect.objectContaining({
        step: "connector",
        field: "isTransportRuleScoped",
        expected: false,
        actual: true,
      }),
    );
  });

  it("a connector put in test mode is a difference (Exchange lists it only when asked)", async () => {
    const tenantId = await onboarded({ outboundGateway: true });
    await sim.tamper(tenantId, { action: "set-connector", name: CONNECTOR, changes: { testMode: true } });
    const drift = await check(tenantId);
    expect(drift.differences).toContainEqual(
      expect.objectContaining({ step: "connector", field: "testMode", expected: false, actual: true }),
    );
    expect(drift.differences).not.toContainEqual(expect.objectContaining({ field: "exists" }));
  });

  it("withdrawn consent is drift of access, not a failure", async () => {
    const tenantId = await onboarded();
    await sim.tamper(tenantId, { action: "revoke-consent" });
    const drift = await check(tenantId);
    expect(drift.differences).toEqual([
      { step: "check-access", object: "admin consent", field: "granted", expected: true, actual: false },
    ]);
    expect((await as(`/v1/tenants/${tenantId}`)).body.status).toBe("succeeded");
  });

  it("checks only succeeded tenants (409), and another partner's tenant is a 404", async () => {
    const tenantId = await onboarded({ approval: "required" }, "awaiting_approval");
    expect((await as(`/v1/tenants/${tenantId}/drift-checks`, "POST")).status).toBe(409);
    const other = await rt.createPartner("Other MSP");
    for (const path of ["drift", "changes"]) {
      expect((await rt.call("GET", `/v1/tenants/${tenantId}/${path}`, { key: other.apiKey })).status).toBe(
        404,
      );
    }
    expect(
      (await rt.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key: other.apiKey })).status,
    ).toBe(404);
  });

  it("requests while a check runs start no other: one partner cannot pile up checks on the shared task function", async () => {
    const tenantId = await onboarded();
    // Each check reads the organization once (check-access), beside its Exchange reads.
    const checks = async () =>
      (await sim.calls(tenantId)).filter((c) => c.service === "graph" && c.operation === "GET /organization")
        .length;
    const before = await checks();
    // The check is held on its journal rule read while the partner loops on the route: each
    // request is answered, and none starts another check.
    await sim.configure({ slowCmdlets: { "Get-JournalRule": 8_000 } });
    try {
      expect((await as(`/v1/tenants/${tenantId}/drift-checks`, "POST")).status).toBe(202);
      const started = Date.now();
      while ((await checks()) === before && Date.now() - started < 30_000) await sleep(100);
      for (let i = 0; i < 19; i++) {
        expect((await as(`/v1/tenants/${tenantId}/drift-checks`, "POST")).status).toBe(202);
      }
      await rt.idle(tenantId);
    } finally {
      await sim.configure({ slowCmdlets: {} });
    }
    expect((await checks()) - before).toBe(1);
    // Once that check has ended, the next request checks again.
    expect((await check(tenantId)).checkedAt).toEqual(expect.any(String));
    expect((await checks()) - before).toBe(2);
  });

  it("the schedule starts checks of succeeded tenants, spread over the interval", async () => {
    const tenantId = aloneTenant;
    expect((await as(`/v1/tenants/${tenantId}/drift`)).body.checkedAt).toBeNull();
    // This tenant's next tick of a 6-hour interval (the form's interval), after it succeeded.
    await rt.driftTick(new Date(nextTickOf(tenantId, SIX_HOURS, Date.now())));
    expect((await as(`/v1/tenants/${tenantId}/drift`)).body).toMatchObject({
      checkedAt: expect.any(String),
      inSync: true,
    });
  });
});

const SIX_HOURS = 6 * 3_600_000;

/**
 * A new tenant id whose phase is no other tenant's of this suite in its tick or the ticks a tick
 * catches up (one phase per tick at 6 hours): the AWS fan-out spreads a tick's starts over 4 of
 * its 5 minutes, and a tick with this tenant alone starts its check at once.
 */
function aloneInItsTicks(): string {
  const taken = new Set(tenants.map(tenantPhase));
  for (;;) {
    const tenantId = randomUUID();
    const phase = tenantPhase(tenantId);
    const ticked = Array.from(
      { length: CATCH_UP_TICKS + 1 },
      (_, back) => (phase - back + DRIFT_PHASES) % DRIFT_PHASES,
    );
    if (!ticked.some((p) => taken.has(p))) return tenantId;
  }
}

describe("remediation", () => {
  it("repairs drift with a normal onboarding run, its writes in the audit trail, then resolves", async () => {
    const tenantId = await onboarded({ onDrift: "remediate" });
    await sim.tamper(tenantId, { action: "disable-journal-rule", name: RULE });
    const drift = await checkRemediated(tenantId);
    expect(drift).toMatchObject({ inSync: false, remediation: "started" });
    const tenant = await rt.waitFor(tenantId, ["succeeded", "failed"]);
    expect(tenant.status).toBe("succeeded");
    expect((await sim.tenant(tenantId)).journalRules[0]?.enabled).toBe(true);
    const { body: changes } = await as(`/v1/tenants/${tenantId}/changes`);
    expect(changes.items[0]).toMatchObject({
      step: "journal-rules",
      cmdlet: "Enable-JournalRule",
      outcome: "ok",
      requestedBy: "drift-remediation",
    });
    // Onboarding's own writes are older, asked for by the partner.
    expect(changes.items.at(-1)).toMatchObject({ requestedBy: "partner" });
    // The remediation run checked again as it ended: in sync without another request.
    await rt.idle(tenantId);
    const after = (await as(`/v1/tenants/${tenantId}/drift`)).body;
    expect(after).toMatchObject({ inSync: true, differences: [] });
    expect(after.remediation).toBeUndefined();
    expect((await driftEvents(tenantId)).map((e) => e.type)).toEqual([
      "tenant.drift.detected",
      "tenant.drift.resolved",
    ]);
    expect((await check(tenantId)).inSync).toBe(true);
    expect((await driftEvents(tenantId)).map((e) => e.type)).toEqual([
      "tenant.drift.detected",
      "tenant.drift.resolved",
    ]);
    const types = ((await as(`/v1/tenants/${tenantId}/events?limit=100`)).body.items as Json[]).map(
      (e) => e.type,
    );
    expect(types.filter((t) => t === "tenant.onboarding.started")).toHaveLength(2);
  });

  it("onDrift can be set by PATCH on an onboarded tenant (other fields stay 409 there)", async () => {
    const tenantId = await onboarded();
    const patched = await as(`/v1/tenants/${tenantId}`, "PATCH", { onDrift: "remediate" });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: "succeeded", onDrift: "remediate" });
    expect((await as(`/v1/tenants/${tenantId}`, "PATCH", { ndrAddress: "x@example.com" })).status).toBe(409);
    await sim.tamper(tenantId, { action: "remove-journal-rule", name: RULE });
    expect((await checkRemediated(tenantId)).remediation).toBe("started");
    expect((await rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
  });

  it("after the daily limit only reports, and says so", async () => {
    const tenantId = await onboarded({ onDrift: "remediate" });
    for (let i = 0; i < 2; i++) {
      await sim.tamper(tenantId, { action: "remove-journal-rule", name: RULE });
      await check(tenantId);
      await rt.waitFor(tenantId, ["succeeded"]);
      // Each remediation run ends with a check: back in sync, so the next drift is detected anew.
      expect((await driftEvents(tenantId)).map((e) => e.data.drift.remediation ?? e.type)).toEqual(
        Array.from({ length: i + 1 }, () => ["started", "tenant.drift.resolved"]).flat(),
      );
    }
    await sim.tamper(tenantId, { action: "remove-journal-rule", name: RULE });
    const drift = await check(tenantId);
    expect(drift).toMatchObject({ inSync: false, remediation: "daily_limit_reached" });
    expect((await as(`/v1/tenants/${tenantId}`)).body.status).toBe("succeeded");
    expect((await sim.tenant(tenantId)).journalRules).toEqual([]);
  });

  it("the audit trail pages newest first with an opaque cursor and records offboarding's removals", async () => {
    const tenantId = await onboarded();
    expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key: partner.apiKey })).status).toBe(202);
    await rt.waitFor(tenantId, ["offboarded"]);
    const first = await as(`/v1/tenants/${tenantId}/changes?limit=1`);
    expect(first.body.items).toHaveLength(1);
    const second = await as(`/v1/tenants/${tenantId}/changes?limit=100&cursor=${first.body.nextCursor}`);
    const all = [...first.body.items, ...second.body.items];
    expect(all.map((c: Json) => c.at)).toEqual([...all.map((c: Json) => c.at)].sort().reverse());
    expect(all.map((c: Json) => c.cmdlet)).toContain("Remove-JournalRule");
    expect(all.find((c: Json) => c.cmdlet === "Remove-JournalRule").step).toBe("remove-journal-rules");
    expect((await as(`/v1/tenants/${tenantId}/changes?cursor=bogus`)).status).toBe(400);
  });
});

describe("plan and approval", () => {
  it("stops after check-access with the plan, then applies exactly it once approved", async () => {
    const tenantId = await onboarded({ approval: "required" }, "awaiting_approval");
    const { body: waiting } = await as(`/v1/tenants/${tenantId}`);
    expect(await writes(tenantId)).toEqual([]);
    expect(waiting.plan.map((w: Json) => [w.step, w.cmdlet])).toEqual([
      ["journal-settings", "Set-TransportConfig"],
      ["journal-rules", "New-JournalRule"],
    ]);
    expect(waiting.plan[1].parameters).toMatchObject({
      Name: RULE,
      JournalEmailAddress: journalAddress(AREA1, "us", "contoso"),
      Scope: "External",
      Enabled: true,
    });
    expect((await driftEventsOrAll(tenantId)).at(-1)).toBe("tenant.onboarding.awaiting_approval");
    expect((await as(`/v1/tenants/${tenantId}/approve`, "POST")).status).toBe(202);
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_approval"])).status).toBe(
      "succeeded",
    );
    expect((await writes(tenantId)).map((c) => c.operation)).toEqual(waiting.plan.map((w: Json) => w.cmdlet));
    expect((await as(`/v1/tenants/${tenantId}/approve`, "POST")).status).toBe(409);
  });

  it("a plan made stale is not applied: back to awaiting_approval with a new plan, nothing written", async () => {
    const tenantId = await onboarded({ approval: "required" }, "awaiting_approval");
    const before = (await as(`/v1/tenants/${tenantId}`)).body.plan;
    // Someone sets the NDR address meanwhile: the approved Set-TransportConfig no longer holds.
    await sim.tamper(tenantId, { action: "set-ndr-address", address: (await sim.demo(tenantId)).admin });
    expect((await as(`/v1/tenants/${tenantId}/approve`, "POST")).status).toBe(202);
    const after = await rt.waitFor(tenantId, ["awaiting_approval", "succeeded", "failed"]);
    await rt.idle(tenantId);
    expect(after.status).toBe("awaiting_approval");
    expect(after.error.code).toBe("PLAN_STALE");
    expect(after.plan).not.toEqual(before);
    expect(after.plan.map((w: Json) => w.cmdlet)).toEqual(["New-JournalRule"]);
    expect(await writes(tenantId)).toEqual([]);
  });

  it("an approved run that failed at validation plans and finishes what is left after a retry", async () => {
    const tenantId = await onboarded({ approval: "required", outboundGateway: true }, "awaiting_approval");
    await sim.configure({ validation: { fail: true } });
    try {
      expect((await as(`/v1/tenants/${tenantId}/approve`, "POST")).status).toBe(202);
      const failed = await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_approval"]);
      expect(failed.status).toBe("failed");
      expect(failed.error.code).toBe("CONNECTOR_VALIDATION_FAILED");
    } finally {
      await sim.configure({ validation: { fail: false } });
    }
    // The connector step succeeded: the new plan is the validation's and the rule's writes only.
    expect((await as(`/v1/tenants/${tenantId}/retry`, "POST")).status).toBe(202);
    const waiting = await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_approval"]);
    expect(waiting.status).toBe("awaiting_approval");
    expect(waiting.plan.map((w: Json) => [w.step, w.cmdlet])).toEqual([
      ["validate-connector", "Validate-OutboundConnector"],
      ["validate-connector", "Set-OutboundConnector"],
      ["journal-rules", "New-JournalRule"],
    ]);
    expect((await as(`/v1/tenants/${tenantId}/approve`, "POST")).status).toBe(202);
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_approval"])).status).toBe(
      "succeeded",
    );
  });
});

async function driftEventsOrAll(tenantId: string): Promise<string[]> {
  return ((await as(`/v1/tenants/${tenantId}/events?limit=100`)).body.items as Json[]).map((e) => e.type);
}
