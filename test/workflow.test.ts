import aslValidator from "asl-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionName, workflowInput } from "../functions/domain/engine.ts";
import { AREA1 } from "../functions/domain/provider.ts";
import type { OnboardingRequest, StepName, Tenant } from "../functions/domain/tenant.ts";
import { endedExecutionOf, recordEndedExecution } from "../functions/tasks/execution-ended.ts";
import { offboardingDefinition, onboardingDefinition } from "../workflows/definition.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

const stepStatus = (tenant: Tenant) => Object.fromEntries(tenant.steps.map((s) => [s.name, s.status]));
const lower = (xs: string[]) => xs.map((x) => x.toLowerCase()).sort();

/** The simulator's tenant is configured as the provider profile and the journaling guide ask, field by field. */
function expectConfigured(req: OnboardingRequest) {
  const state = h.sim.tenant(req.tenantId);
  const us = `${req.customerName}@journaling.mxrecord.io`;
  const eu = `${req.customerName}@mailstream-eu.journaling.mxrecord.io`;
  expect(state.journalingReportNdrTo?.toLowerCase()).toBe(req.ndrAddress.toLowerCase());

  const regions = req.region === "split" ? (["eu", "us"] as const) : ([req.region] as const);
  const connectors = state.connectors.map((c) => ({
    ...c,
    recipientDomains: lower(c.recipientDomains),
    smartHosts: lower(c.smartHosts),
  }));
  if (!req.outboundGateway) expect(connectors).toEqual([]);
  else {
    const expected = regions.map((r) => {
      const name = req.region === "split" && r === "eu" ? `${AREA1.connectorName} (EU)` : AREA1.connectorName;
      return expect.objectContaining({
        name,
        comment: name,
        connectorType: "Partner",
        recipientDomains: [r === "us" ? "journaling.mxrecord.io" : "mailstream-eu.journaling.mxrecord.io"],
        smartHosts:
          r === "us"
            ? ["mailstream-east.mxrecord.io", "mailstream-west.mxrecord.io"]
            : ["mailstream-eu1.mxrecord.io"],
        useMxRecord: false,
        tlsSettings: "CertificateValidation",
        enabled: true,
      });
    });
    expect(connectors).toHaveLength(expected.length);
    expect(connectors).toEqual(expect.arrayContaining(expected));
  }

  const rules = state.journalRules.map((r) => ({
    ...r,
    recipient: r.recipient?.toLowerCase() ?? null,
    journalEmailAddress: r.journalEmailAddress.toLowerCase(),
  }));
  if (req.region === "split") {
    expect(rules).toEqual(
      expect.arrayContaining([
        {
          name: `${AREA1.journalRuleName} (EU)`,
          journalEmailAddress: eu,
          scope: "External",
          recipient: req.groups!.eu.primarySmtpAddress.toLowerCase(),
          enabled: true,
        },
        {
          name: `${AREA1.journalRuleName} (US)`,
          journalEmailAddress: us,
          scope: "External",
          recipient: req.groups!.us.primarySmtpAddress.toLowerCase(),
          enabled: true,
        },
      ]),
    );
    expect(rules).toHaveLength(2);
    for (const g of [req.groups!.eu, req.groups!.us]) {
      const group = state.groups.find((x) => x.name === g.name);
      expect(group?.primarySmtpAddress.toLowerCase()).toBe(g.primarySmtpAddress.toLowerCase());
      expect(group?.recipientTypeDetails).toBe("MailUniversalDistributionGroup");
      expect(lower(group?.members ?? [])).toEqual(lower(g.members));
    }
  } else {
    expect(rules).toEqual([
      {
        name: AREA1.journalRuleName,
        journalEmailAddress: req.region === "us" ? us : eu,
        scope: "External",
        recipient: null,
        enabled: true,
      },
    ]);
  }
}

describe("workflow definition", () => {
  it("is valid ASL (asl-validator)", async () => {
    const arn = (t: string) => `arn:aws:lambda:us-east-1:123456789012:function:${t}`;
    for (const def of [onboardingDefinition(arn), offboardingDefinition(arn)]) {
      const result = await aslValidator(def as never);
      expect(result.errors).toEqual([]);
      expect(result.isValid).toBe(true);
    }
  });
});

describe.each([
  ["us", false],
  ["us", true],
  ["eu", false],
  ["eu", true],
  ["split", false],
  ["split", true],
] as const)("onboarding %s, outboundGateway=%s", (region, outboundGateway) => {
  it("configures the tenant as the journaling guide says, then a second run writes nothing", async () => {
    const req = h.request({ region, outboundGateway });
    const tenant = await h.onboard(req);
    expect(tenant.error).toBeUndefined();
    expect(tenant.status).toBe("succeeded");
    const expectedSkipped: StepName[] = [
      ...(outboundGateway ? [] : (["connector", "validate-connector"] as const)),
      ...(region === "split" ? [] : (["groups"] as const)),
    ];
    for (const step of tenant.steps) {
      expect(step.status).toBe(expectedSkipped.includes(step.name as StepName) ? "skipped" : "succeeded");
      if (step.status === "succeeded") {
        expect(step.attempts).toBe(1);
        expect(step.startedAt! <= step.finishedAt!).toBe(true);
      }
    }
    expectConfigured(req);

    const events = await h.store.listEvents(req.tenantId);
    expect(events.map((e) => e.data.sequence)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]?.type).toBe("tenant.onboarding.started");
    expect(events.at(-1)?.type).toBe("tenant.onboarding.succeeded");
    const succeededSteps = events
      .filter((e) => e.type === "tenant.onboarding.step_succeeded")
      .map((e) => e.data.step);
    expect(new Set(succeededSteps).size).toBe(6 - expectedSkipped.length);

    // The whole workflow again on the finished tenant, every step forced to run: zero writes.
    const writesBefore = h.writes(req.tenantId).length;
    expect((await h.rerun(req.tenantId)).status).toBe("succeeded");
    expect(h.writes(req.tenantId).slice(writesBefore)).toEqual([]);
    expectConfigured(req);
  });
});

describe("failures and retries", () => {
  const failing: [StepName, string][] = [
    ["check-access", "Get-Recipient"],
    ["connector", "New-OutboundConnector"],
    ["validate-connector", "Validate-OutboundConnector"],
    ["journal-settings", "Set-TransportConfig"],
    ["groups", "New-DistributionGroup"],
    ["journal-rules", "New-JournalRule"],
  ];
  it.each(failing)(
    "a refusal in %s fails that step; a retry finishes without repeating writes",
    async (step, cmdlet) => {
      const req = h.request({ region: "split", outboundGateway: true });
      h.sim.failNext(req.tenantId, cmdlet, {
        kind: "error",
        status: 400,
        message: `The ${cmdlet} call was refused by the test.`,
        exceptionType: "ArgumentException",
      });
      const failed = await h.onboard(req);
      expect(failed.status).toBe("failed");
      expect(stepStatus(failed)[step]).toBe("failed");
      const failedStep = failed.steps.find((s) => s.name === step)!;
      expect(failedStep.error?.code).toBe("M365_INVALID_REQUEST");
      expect(failedStep.error?.message).toContain("refused by the test");
      expect(failed.error?.code).toBe("M365_INVALID_REQUEST");
      if (step !== "journal-rules") {
        // Journaling never starts before its prerequisites (a validated connector among them).
        expect(stepStatus(failed)["journal-rules"]).toBe("pending");
        expect(h.sim.tenant(req.tenantId).journalRules).toEqual([]);
      }
      const stored = (await h.store.getTenant(req.tenantId))!;
      expect(await h.engine.describe("onboarding", workflowInput(stored))).toMatchObject({
        status: "FAILED",
        error: expect.stringContaining("A step failed"),
      });
      const events = await h.store.listEvents(req.tenantId);
      expect(
        events.filter((e) => e.type === "tenant.onboarding.step_failed").map((e) => e.data.step),
      ).toEqual([step]);
      expect(events.at(-1)?.type).toBe("tenant.onboarding.failed");

      const writesBefore = h
        .writes(req.tenantId)
        .map((c) => `${c.operation} ${JSON.stringify(c.parameters)}`);
      const retried = await h.retry(req.tenantId);
      expect(retried.error).toBeUndefined();
      expect(retried.status).toBe("succeeded");
      expect(
        await h.engine.describe("onboarding", workflowInput((await h.store.getTenant(req.tenantId))!)),
      ).toMatchObject({
        status: "SUCCEEDED",
      });
      expectConfigured(req);
      const writesAfter = h
        .writes(req.tenantId)
        .map((c) => `${c.operation} ${JSON.stringify(c.parameters)}`)
        .slice(writesBefore.length);
      // Nothing done before is done again.
      for (const w of writesAfter) expect(writesBefore).not.toContain(w);
      // Steps that had succeeded were not run again.
      for (const s of failed.steps.filter((x) => x.status === "succeeded")) {
        expect(retried.steps.find((x) => x.name === s.name)?.attempts).toBe(s.attempts);
      }
    },
  );

  it("completes through a throttling storm (30% 429 with Retry-After)", async () => {
    h.sim.configure({ faults: { throttleRate: 0.3, retryAfterSeconds: 0 }, seed: 7 });
    try {
      const reqs = [h.request({ region: "split", outboundGateway: true }), h.request({ region: "us" })];
      const tenants = await Promise.all(reqs.map((r) => h.onboard(r)));
      for (const [i, t] of tenants.entries()) {
        expect(t.error).toBeUndefined();
        expect(t.status).toBe("succeeded");
        expectConfigured(reqs[i]!);
      }
      const throttled = reqs.flatMap((r) => h.sim.calls(r.tenantId)).filter((c) => c.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
    } finally {
      h.sim.configure({ faults: { throttleRate: 0 } });
    }
  });

  it("retries a connector validation that lags creation, then succeeds", async () => {
    h.sim.configure({ validation: { lag: 2 } });
    try {
      const req = h.request({ region: "us", outboundGateway: true });
      const tenant = await h.onboard(req);
      expect(tenant.status).toBe("succeeded");
      expect(
        h.sim.calls(req.tenantId).filter((c) => c.operation === "Validate-OutboundConnector"),
      ).toHaveLength(3);
    } finally {
      h.sim.configure({ validation: { lag: 0 } });
    }
  });

  it("hydrates a dehydrated organisation once, though three steps are refused at the same time, then goes on", async () => {
    const req = h.request({ region: "split", outboundGateway: true });
    h.sim.setDehydrated(req.tenantId, true);
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    expect(
      h.sim.calls(req.tenantId).filter((c) => c.operation === "Enable-OrganizationCustomization"),
    ).toHaveLength(1);
    expect(h.sim.tenant(req.tenantId).dehydrated).toBe(false);
    expectConfigured(req);
  });

  it("refuses a group as ndrAddress with a clear error before any write", async () => {
    for (const kind of ["group", "team"] as const) {
      const tenantId = crypto.randomUUID();
      const ndrAddress = h.sim.demo(tenantId)[kind].address;
      const req = h.request({ tenantId, outboundGateway: true, ndrAddress });
      const tenant = await h.onboard(req);
      expect(tenant.status).toBe("failed");
      expect(stepStatus(tenant)["check-access"]).toBe("failed");
      expect(tenant.error?.code).toBe("INVALID_NDR_ADDRESS");
      expect(tenant.error?.message).toMatch(/cannot go to a group or team/);
      expect(h.sim.calls(req.tenantId).filter((c) => c.write)).toEqual([]);
    }
  });

  it("waits for consent, then a retry continues", async () => {
    const req = h.request({ region: "eu" });
    h.sim.setConsented(req.tenantId, false);
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_consent");
    expect(waiting.consentUrl).toContain(`/${req.tenantId}/adminconsent?client_id=`);
    expect(waiting.error?.code).toBe("CONSENT_REQUIRED");
    expect(h.sim.calls(req.tenantId).filter((c) => c.service === "exchange")).toEqual([]);
    const events = await h.store.listEvents(req.tenantId);
    expect(events.map((e) => e.type)).toEqual([
      "tenant.onboarding.started",
      "tenant.onboarding.awaiting_consent",
    ]);

    h.sim.setConsented(req.tenantId, true);
    const done = await h.retry(req.tenantId);
    expect(done.status).toBe("succeeded");
    expect(done.consentUrl).toBeUndefined();
    expectConfigured(req);
  });
});

describe("runs", () => {
  it("a task of an older run changes nothing, in the store or in Microsoft 365", async () => {
    const req = h.request({ region: "us" });
    h.sim.failNext(req.tenantId, "New-JournalRule", { kind: "error", status: 400, message: "Refused once." });
    expect((await h.onboard(req)).status).toBe("failed");
    expect((await h.retry(req.tenantId)).status).toBe("succeeded"); // run 2
    const before = await h.store.getTenant(req.tenantId);
    const events = await h.store.listEvents(req.tenantId);
    const writes = h.writes(req.tenantId).length;
    // A late task of run 1 (its execution was thought dead, e.g. a lost StartExecution answer).
    await expect(h.handlers.Journal({ tenantId: req.tenantId, run: 1 })).rejects.toThrow(/run 1 is stale/);
    await h.handlers.RecordOutcome({ tenantId: req.tenantId, run: 1, outcome: "failed" });
    expect(await h.store.getTenant(req.tenantId)).toEqual(before);
    expect(await h.store.listEvents(req.tenantId)).toEqual(events);
    expect(h.writes(req.tenantId)).toHaveLength(writes);
  });
});

describe("executions that end without an outcome", () => {
  it("are recorded as failed (INTERRUPTED) for their run only, once", async () => {
    const req = h.request({ region: "us" });
    await h.store.registerTenant("p_test", req, new Date().toISOString());
    await h.store.transition(req.tenantId, { status: "running" }, new Date().toISOString());
    // What EventBridge says of an execution that timed out (input as Step Functions gives it).
    const ended = endedExecutionOf({
      name: executionName("onboarding", { tenantId: req.tenantId, run: 1 }),
      status: "TIMED_OUT",
      input: JSON.stringify({ tenantId: req.tenantId, run: 1 }),
    });
    expect(ended).toEqual({ kind: "onboarding", tenantId: req.tenantId, run: 1, status: "TIMED_OUT" });
    const stale = { ...ended!, run: 2 };
    expect(await recordEndedExecution(h.store, stale, new Date().toISOString())).toBe(false);
    expect(await recordEndedExecution(h.store, ended!, new Date().toISOString())).toBe(true);
    expect(await recordEndedExecution(h.store, ended!, new Date().toISOString())).toBe(false);
    const { tenant } = (await h.store.getTenant(req.tenantId))!;
    expect(tenant.status).toBe("failed");
    expect(tenant.error?.code).toBe("INTERRUPTED");
    const events = await h.store.listEvents(req.tenantId);
    expect(events.map((e) => e.type)).toEqual(["tenant.onboarding.failed"]);
    expect(endedExecutionOf({ name: "something-else", status: "FAILED", input: "{}" })).toBeUndefined();
  });

  it("leave a tenant alone when its outcome was recorded (our own Fail state ends the execution FAILED)", async () => {
    const req = h.request({ region: "us" });
    h.sim.failNext(req.tenantId, "New-JournalRule", { kind: "error", status: 400, message: "No." });
    const failed = await h.onboard(req);
    expect(failed.status).toBe("failed");
    const ended = { kind: "onboarding" as const, tenantId: req.tenantId, run: 1, status: "FAILED" };
    expect(await recordEndedExecution(h.store, ended, new Date().toISOString())).toBe(false);
    expect((await h.store.getTenant(req.tenantId))!.tenant.error?.code).toBe("M365_INVALID_REQUEST");
  });
});

describe("stranded tenants", () => {
  it("a tenant left queued with no execution (the API died before starting it) can be retried", async () => {
    const req = h.request({ region: "us" });
    await h.store.registerTenant("p_test", req, new Date().toISOString()); // no StartExecution
    const done = await h.retry(req.tenantId);
    expect(done.status).toBe("succeeded");
    expectConfigured(req);
    // The stranded run is on record as failed before the retry's run started.
    const events = await h.store.listEvents(req.tenantId);
    expect(events.map((e) => e.type).slice(0, 2)).toEqual([
      "tenant.onboarding.failed",
      "tenant.onboarding.started",
    ]);
    expect(events[0]?.data.error?.code).toBe("INTERRUPTED");
  });

  it("a tenant whose execution is alive cannot be retried or offboarded", async () => {
    const req = h.request({ region: "us" });
    h.sim.configure({ latencyMs: 100 });
    try {
      await h.service.register("p_test", req);
      await expect(h.service.retry({ role: "ops" }, req.tenantId)).rejects.toThrow(
        /can be retried only when/,
      );
      await expect(h.service.offboard({ role: "ops" }, req.tenantId)).rejects.toThrow(
        /can be offboarded only when/,
      );
    } finally {
      await h.engine.idle();
      h.sim.configure({ latencyMs: 0 });
    }
    expect((await h.store.getTenant(req.tenantId))!.tenant.status).toBe("succeeded");
  });
});

describe("offboarding", () => {
  it("removes what onboarding created, restores the NDR address, and keeps what it did not create", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    const before = h.sim.tenant(tenantId);
    // A pre-existing group of the requested name is adopted, not created: offboarding keeps it.
    const req = h.request({
      tenantId,
      region: "split",
      outboundGateway: true,
      groups: {
        eu: {
          name: demo.group.name,
          primarySmtpAddress: demo.group.address,
          members: [demo.alice, demo.admin],
        },
        us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
      },
    });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const during = h.sim.tenant(tenantId);
    expect(
      during.groups.find((g) => g.name === demo.group.name)?.members.map((m) => m.toLowerCase()),
    ).toContain(demo.admin);

    const after = await h.offboard(tenantId);
    expect(after.status).toBe("offboarded");
    const state = h.sim.tenant(tenantId);
    expect(state.connectors).toEqual(before.connectors);
    expect(state.journalRules).toEqual(before.journalRules);
    expect(state.journalingReportNdrTo).toBe(before.journalingReportNdrTo);
    expect(state.groups.map((g) => g.name).sort()).toEqual(before.groups.map((g) => g.name).sort());
    // The adopted group keeps its own members, without the one onboarding added.
    const members = (s: typeof state) =>
      lower(s.groups.find((g) => g.name === demo.group.name)?.members ?? []);
    expect(members(state)).toEqual(members(before));
    expect(members(state)).not.toContain(demo.admin.toLowerCase());
    const events = await h.store.listEvents(tenantId);
    expect(events.at(-1)?.type).toBe("tenant.offboarding.succeeded");
  });
});
