/**
 * Read once, then write: CheckAccess reads everything the onboarding compares in one wave, the
 * writing tasks apply those comparisons without reading again; a write that finds the tenant
 * changed meanwhile reads again; a retry never reuses the wave's comparison (so it repeats no
 * write). Real parts: the local engine running the definition, dynalite, the HTTPS simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransientError } from "../functions/domain/errors.ts";
import { AREA1 } from "../functions/domain/provider.ts";
import { emptyDiff, type StepDiff } from "../functions/domain/steps/diff.ts";
import { FORWARD_BUDGET_BYTES, forwardable } from "../functions/domain/steps/wave.ts";
import type { SimCall } from "../infra/local/m365-simulator/index.ts";
import { RETIRED_TASKS, type RetiredTaskName } from "../workflows/definition.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

/** Runs before a tenant's Configure task (set by a test, cleared after). */
let beforeConfigure: ((tenantId: string, run: number) => Promise<void>) | undefined;

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness({
    wrap: (task, handler) =>
      task === "Configure"
        ? async (input) => {
            await beforeConfigure?.(input.tenantId, input.run);
            return handler(input);
          }
        : handler,
  });
});
afterAll(async () => {
  await h?.close();
});

/** Exchange reads of objects (not the cmdlet list, not validation, which sends a test message). */
const isRead = (c: SimCall) => c.service === "exchange" && !c.write && c.operation.startsWith("Get-");
const key = (c: SimCall) =>
  `${c.operation} ${JSON.stringify(c.parameters?.["Identity"] ?? null)} ${c.parameters?.["IncludeTestModeConnectors"] ?? ""}`;

describe("one wave of reads", () => {
  it("reads every object once, before the first write (split, outbound gateway)", async () => {
    const req = h.request({ region: "split", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const calls = h.sim.calls(req.tenantId);
    const firstWrite = calls.findIndex((c) => c.write);
    expect(firstWrite).toBeGreaterThan(0);
    const reads = calls.filter(isRead);
    expect(reads.length).toBeGreaterThan(0);
    // Every read comes before the first write, and no object is read twice.
    expect(calls.slice(firstWrite).filter(isRead).map(key)).toEqual([]);
    expect(new Set(reads.map(key)).size).toBe(reads.length);
    // Each connector is read once (the connector and validation steps used to read it apart);
    // one that is not there is asked for again among the test-mode connectors Exchange hides.
    const connectorReads = reads.filter((c) => c.operation === "Get-OutboundConnector");
    expect(
      connectorReads.filter((c) => c.parameters?.["IncludeTestModeConnectors"] === undefined),
    ).toHaveLength(2);
    expect(connectorReads.filter((c) => c.parameters?.["IncludeTestModeConnectors"] === true)).toHaveLength(
      2,
    );
  });

  it("a re-run of a finished tenant reads once and writes nothing", async () => {
    const req = h.request({ region: "us", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const before = h.sim.calls(req.tenantId).length;
    expect((await h.rerun(req.tenantId)).status).toBe("succeeded");
    const again = h.sim.calls(req.tenantId).slice(before);
    expect(again.filter((c) => c.write)).toEqual([]);
    // Validation sends a test message: a validated connector is not validated again.
    expect(again.filter((c) => c.operation === "Validate-OutboundConnector")).toEqual([]);
    const reads = again.filter(isRead);
    expect(new Set(reads.map(key)).size).toBe(reads.length);
  });
});

describe("the tenant changes between the wave and the writes", () => {
  it("a connector created meanwhile by the customer's admin is read again and adopted, not failed on", async () => {
    const req = h.request({ region: "us", outboundGateway: true });
    const theirs = {
      name: AREA1.connectorName,
      comment: "made by the admin",
      connectorType: "Partner" as const,
      recipientDomains: ["journaling.mxrecord.io"],
      smartHosts: ["smtp.example.net"],
      useMxRecord: false,
      tlsSettings: "CertificateValidation" as const,
      enabled: true,
    };
    beforeConfigure = async (tenantId) => {
      if (tenantId === req.tenantId) await h.m365.tenant(tenantId).exchange.newOutboundConnector(theirs);
    };
    let tenant: Awaited<ReturnType<WorkflowHarness["onboard"]>>;
    try {
      tenant = await h.onboard(req);
    } finally {
      beforeConfigure = undefined;
    }
    expect(tenant.status).toBe("succeeded");
    const calls = h.sim.calls(req.tenantId);
    const ours = calls.filter((c) => c.operation === "New-OutboundConnector");
    // The admin's New, then ours refused ("already exists"), then no other New: a Set instead.
    expect(ours.map((c) => c.status < 400)).toEqual([true, false]);
    expect(calls.filter((c) => c.operation === "Set-OutboundConnector" && c.status < 400).length).toBe(2);
    const stored = (await h.store.getTenant(req.tenantId))!;
    expect(stored.internals.adopted.connectors[AREA1.connectorName]?.smartHosts).toEqual([
      "smtp.example.net",
    ]);
    expect(stored.internals.owned.connectors).not.toContain(AREA1.connectorName);

    // Offboarding restores the admin's connector instead of deleting it.
    expect((await h.offboard(req.tenantId)).status).toBe("offboarded");
    const left = h.sim.tenant(req.tenantId).connectors.find((c) => c.name === AREA1.connectorName);
    expect(left?.smartHosts).toEqual(["smtp.example.net"]);
  });

  it("a retry of a failed attempt compares afresh: no write of the first attempt is sent again", async () => {
    const req = h.request({ region: "split", outboundGateway: false });
    // Group creation fails on every in-task attempt: the task fails and the workflow retries it.
    // (Not a long 429: after one, every request to the tenant waits out its Retry-After,
    // test/m365-tenant-throttle.test.ts.)
    h.sim.failNext(req.tenantId, "New-DistributionGroup", { kind: "server-error" }, 8);
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    expect(tenant.steps.find((s) => s.name === "groups")?.attempts).toBeGreaterThan(1);
    const news = h.sim.calls(req.tenantId).filter((c) => c.operation === "New-DistributionGroup");
    for (const name of [req.groups!.eu.name, req.groups!.us.name]) {
      const forGroup = news.filter((c) => c.parameters?.["Name"] === name);
      // Created once; after the creation nothing was sent for it again.
      expect(forGroup.filter((c) => c.status < 400)).toHaveLength(1);
      expect(forGroup.at(-1)?.status).toBeLessThan(400);
    }
  });
});

describe("retries never act on what the wave read", () => {
  it("a Configure attempt that died is retried with fresh reads, and the connector it corrects is validated", async () => {
    const req = h.request({ region: "us", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    let attempts = 0;
    beforeConfigure = async (tenantId, run) => {
      if (tenantId !== req.tenantId || attempts++ > 0) return;
      // The attempt marks its steps running, then dies (Lambda timed out); meanwhile the admin
      // edits the connector, which clears its validated mark.
      await h.store.transition(
        tenantId,
        { expectRun: run, steps: { connector: { status: "running", countAttempt: true } } },
        new Date().toISOString(),
      );
      h.sim.tamper(tenantId, {
        action: "set-connector",
        name: AREA1.connectorName,
        changes: { smartHosts: ["smtp.example.net"] },
      });
      throw new TransientError("the task ended before it answered");
    };
    const before = h.sim.calls(req.tenantId).length;
    let tenant: Awaited<ReturnType<WorkflowHarness["rerun"]>>;
    try {
      tenant = await h.rerun(req.tenantId);
    } finally {
      beforeConfigure = undefined;
    }
    expect(tenant.status).toBe("succeeded");
    const again = h.sim.calls(req.tenantId).slice(before);
    expect(again.filter((c) => c.operation === "Validate-OutboundConnector")).toHaveLength(1);
    const connector = h.sim.tenant(req.tenantId).connectors.find((c) => c.name === AREA1.connectorName);
    expect(connector).toMatchObject({ isValidated: true });
    expect(connector?.smartHosts.map((x) => x.toLowerCase()).sort()).toEqual(AREA1.regions.us.smartHosts);
  });

  it("a step Exchange refused for good is not sent again while its failing sibling is retried", async () => {
    const req = h.request({ region: "split", outboundGateway: false });
    h.sim.failNext(req.tenantId, "Set-TransportConfig", { kind: "error", status: 400, message: "Refused." });
    h.sim.failNext(req.tenantId, "New-DistributionGroup", { kind: "server-error" }, 8);
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("failed");
    expect(tenant.error?.code).toBe("M365_INVALID_REQUEST");
    const steps = Object.fromEntries(tenant.steps.map((s) => [s.name, s.status]));
    expect(steps).toMatchObject({
      "journal-settings": "failed",
      groups: "succeeded",
      "journal-rules": "pending",
    });
    const calls = h.sim.calls(req.tenantId);
    expect(calls.filter((c) => c.operation === "Set-TransportConfig")).toHaveLength(1);
    expect(calls.filter((c) => c.operation === "New-JournalRule")).toEqual([]);
    const failures = (await h.store.listEvents(req.tenantId)).filter(
      (e) => e.type === "tenant.onboarding.step_failed",
    );
    expect(failures.map((e) => e.data.step)).toEqual(["journal-settings"]);
  });

  it("a store fault on the write that records success is tried again: the onboarding succeeds", async () => {
    const req = h.request({ region: "us" });
    const transition = h.store.transition.bind(h.store);
    let faults = 0;
    h.store.transition = async (tenantId, change, at) => {
      if (tenantId === req.tenantId && change.status === "succeeded" && faults++ === 0) {
        throw Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
          name: "ProvisionedThroughputExceededException",
        });
      }
      return transition(tenantId, change, at);
    };
    try {
      expect((await h.onboard(req)).status).toBe("succeeded");
    } finally {
      h.store.transition = transition;
    }
    expect(faults).toBe(2);
  });

  it("still serves the previous release's task names (executions started before a deploy)", async () => {
    const req = h.request({ region: "split", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    for (const [task, steps] of Object.entries(RETIRED_TASKS)) {
      // An execution of the previous release reaches this task with its step still pending.
      const { stored } = await h.store.transition(
        req.tenantId,
        {
          status: "running",
          steps: Object.fromEntries(steps.map((s) => [s, { status: "pending" as const }])),
        },
        new Date().toISOString(),
      );
      const before = h.sim.calls(req.tenantId).length;
      await h.handlers[task as RetiredTaskName]({ tenantId: req.tenantId, run: stored.internals.run });
      const after = (await h.store.getTenant(req.tenantId))!.tenant;
      for (const step of steps) {
        expect(after.steps.find((s) => s.name === step)?.status, `${task}: ${step}`).toBe("succeeded");
      }
      // It read before it wrote, as before: the tenant is as wanted, so nothing is created again.
      const calls = h.sim.calls(req.tenantId).slice(before);
      expect(calls.some(isRead), task).toBe(true);
      expect(
        calls.filter((c) => c.write && c.operation.startsWith("New-")),
        task,
      ).toEqual([]);
    }
  });
});

describe("what goes forward in the workflow's state", () => {
  const diffOf = (step: StepDiff["step"], bytes: number): StepDiff => ({
    ...emptyDiff(step),
    differences: [{ step, object: "o", field: "f", expected: "x".repeat(bytes), actual: null }],
  });

  it("keeps whole diffs within the budget, smallest first: a huge group's step reads again", () => {
    const diffs = {
      connector: diffOf("connector", 1_000),
      "journal-settings": diffOf("journal-settings", 500),
      groups: diffOf("groups", FORWARD_BUDGET_BYTES),
    };
    const out = forwardable(diffs, "2026-01-01T00:00:00.000Z", () => 3);
    expect(Object.keys(out).sort()).toEqual(["connector", "journal-settings"]);
    expect(out.connector).toEqual({ attempt: 3, readAt: "2026-01-01T00:00:00.000Z", diff: diffs.connector });
    expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThan(FORWARD_BUDGET_BYTES);
  });
});
