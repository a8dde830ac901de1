/**
 * Crash: the service runs as a child process (`npm start`) against a standalone simulator
 * process (the "tenants" outlive the service, as Microsoft 365 would) and is SIGKILLed while
 * onboardings are in flight and webhook deliveries are being retried; started again on the
 * same DATA_DIR, it marks interrupted tenants failed (INTERRUPTED), and retrying them must
 * finish every onboarding with nothing created twice, every tenant's events numbered 1..n,
 * and every event delivered to the partner's receiver at least once, signed, in order.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/domain/api-keys.ts";
import { connectSimulator, type RemoteSimulatorControl } from "../../infra/local/m365-simulator/index.ts";
import { type ApiClient, apiClient, type Json, waitUntil } from "./support/api.ts";
import {
  crashDuringStart,
  type ServiceChild,
  type SimulatorChild,
  startServiceProcess,
  startSimulatorProcess,
} from "./support/processes.ts";
import { compareDeliveries, flakyReceiver, type Receiver, startReceiver } from "./support/receiver.ts";
import { count, sized, TEST_TIMEOUT_MS } from "./support/scale.ts";
import {
  expectedWrites,
  historyProblems,
  isHistoryOnly,
  type ListedEvent,
  type OnboardingBody,
  onboardingBody,
  sequenceProblems,
  tenantProblems,
} from "./support/tenants.ts";

const ONBOARDINGS = sized(8, 20);
/** SIGKILLs (at most): the first while the onboardings run, the others while the retries run. */
const CRASHES = sized(1, 3);
const ACTIVE = ["queued", "running"];

let root: string;
let simulator: SimulatorChild;
let control: RemoteSimulatorControl;
let service: ServiceChild | undefined;
let receiver: Receiver;
const opsKey = generateApiKey();
let api: ApiClient;
let partner: { partnerId: string; apiKey: string };
let partnerKey: string;
const bodies = new Map<string, OnboardingBody>();
/** Each tenant's JournalingReportNdrTo before onboarding (offboarding restores it). */
const initialNdr = new Map<string, string | null>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "crash-"));
  // Latency and the chaos suite's faults (seeded) keep many onboardings in flight at once, some
  // of them in the middle of in-task retries, when the crash comes.
  simulator = await startSimulatorProcess(join(root, "m365"), [
    "--latency",
    String(sized(60, 120)),
    "--seed",
    "11",
    ...["--throttle-rate", "0.2", "--retry-after", "0", "--server-error-rate", "0.1", "--drop-rate", "0.02"],
  ]);
  control = connectSimulator(simulator.url, { caPem: simulator.caPem });
  receiver = await startReceiver(flakyReceiver(0.25, 0.1));
});

afterAll(async () => {
  await service?.kill();
  await simulator?.stop();
  await receiver?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const serviceEnv = () => ({
  ...simulator.env,
  DATA_DIR: join(root, "service"),
  OPS_API_KEY: opsKey,
  WEBHOOK_RETRY_SCHEDULE: "100ms,200ms,400ms,800ms,1600ms",
  WORKFLOW_RETRY_SCALE: "0.001",
});

let startupCrashes = 0;

/**
 * Starts the service on the same DATA_DIR; after a crash, first starts it once more and kills
 * that start near its end (where it recovers what the crash left), so that recovery itself is
 * cut off.
 */
async function startService(afterCrash = false): Promise<ApiClient> {
  if (afterCrash && service) {
    if (await crashDuringStart(serviceEnv(), service.readyMs * 0.9)) startupCrashes++;
  }
  service = await startServiceProcess(serviceEnv());
  return apiClient(service.url, opsKey);
}

async function statuses(): Promise<Map<string, Json>> {
  const items = await api.listAll("/v1/tenants", partnerKey);
  return new Map(items.map((t) => [t.tenantId, t]));
}

/** Waits until none of the tenants is in one of the `active` statuses. */
async function settled(ids: string[], active: string[]): Promise<Map<string, Json>> {
  return waitUntil("no tenant in flight", async () => {
    const now = await statuses();
    return ids.some((id) => active.includes(now.get(id)?.status)) ? undefined : now;
  });
}

/**
 * Starts `start(tenantId)` for each tenant in turn, each once the previous one runs, so that
 * they are spread over the workflow; then SIGKILLs the service as soon as one of them is
 * `done` while others are still `active`. Returns how many were in flight then.
 */
async function crashMidway(
  tenantIds: string[],
  start: (tenantId: string) => Promise<void>,
  done: string,
  active: string[],
): Promise<number> {
  for (const tenantId of tenantIds) {
    await start(tenantId);
    await waitUntil(
      `${tenantId} to run`,
      async () => ((await statuses()).get(tenantId)?.status !== "queued" ? true : undefined),
      { intervalMs: 10 },
    );
  }
  const inFlight = await waitUntil(
    `one tenant ${done} while another is in flight`,
    async () => {
      const now = await statuses();
      const mine = tenantIds.map((id) => now.get(id)?.status);
      const running = mine.filter((s) => active.includes(s)).length;
      return mine.includes(done) && running > 0 ? running : undefined;
    },
    { intervalMs: 10 },
  );
  await service!.kill();
  return inFlight;
}

/** Events 1..n, all delivered at least once, signed, in order; returns the receiver's report. */
async function checkEvents(ids: string[], check: (id: string, list: ListedEvent[]) => string[]) {
  const events = new Map<string, ListedEvent[]>();
  for (const id of ids) {
    const list = (await api.listAll(`/v1/tenants/${id}/events`, partnerKey)) as ListedEvent[];
    expect(sequenceProblems(id, list)).toEqual([]);
    expect(check(id, list)).toEqual([]);
    // History-only events (tenant.bound_by_ops) are never delivered.
    events.set(
      id,
      list.filter((e) => !isHistoryOnly(e.type)),
    );
  }
  await waitUntil(
    "every event at the receiver",
    async () => (compareDeliveries(events, receiver.received).lost.length === 0 ? true : undefined),
    {
      timeoutMs: 60_000,
      describe: async () => compareDeliveries(events, receiver.received).lost.slice(0, 10).join("; "),
    },
  );
  const report = compareDeliveries(events, receiver.received);
  expect(report.invalid).toBe(0);
  expect(report.outOfOrder).toEqual([]);
  expect(report.mismatched).toEqual([]);
  expect(report.unknown).toEqual([]);
  return { report, total: [...events.values()].reduce((n, l) => n + l.length, 0) };
}

describe("crash", { timeout: TEST_TIMEOUT_MS }, () => {
  it(`${ONBOARDINGS} onboardings survive up to ${CRASHES} SIGKILL(s) of the service`, async () => {
    for (let i = 0; i < ONBOARDINGS; i++) {
      const body = onboardingBody("crash", i);
      bodies.set(body.tenantId, body);
      initialNdr.set(body.tenantId, (await control.tenant(body.tenantId)).journalingReportNdrTo);
    }
    const ids = [...bodies.keys()];

    api = await startService();
    partner = await api.createPartner("crash");
    partnerKey = partner.apiKey;
    const hook = await api.call("PUT", "/v1/webhook", { key: partnerKey, body: { url: receiver.url } });
    expect(hook.status, hook.text).toBe(200);
    receiver.setSecret(hook.body.secret);

    const interruptions = new Map<string, number>();
    let retries = 0;
    const retry = async (tenantId: string) => {
      const res = await api.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partnerKey });
      expect(res.status, res.text).toBe(202);
      retries++;
    };
    /** After a restart: every tenant the crash cut off is failed with INTERRUPTED, nothing is left running. */
    const failedAfterRestart = async (): Promise<string[]> => {
      const now = await statuses();
      const failed = ids.filter((id) => now.get(id)?.status === "failed");
      for (const id of ids) expect(ACTIVE, id).not.toContain(now.get(id)?.status);
      for (const id of failed) {
        expect(now.get(id)?.error?.code, id).toBe("INTERRUPTED");
        interruptions.set(id, (interruptions.get(id) ?? 0) + 1);
      }
      return failed;
    };

    // Crash 1: while the onboardings run; the others: while the retries of the interrupted ones run.
    const inFlight = [
      await crashMidway(
        ids,
        async (tenantId) => {
          const res = await api.onboard(partner, bodies.get(tenantId));
          expect(res.status, res.text).toBe(202);
        },
        "succeeded",
        ACTIVE,
      ),
    ];
    api = await startService(true);
    let failed = await failedAfterRestart();
    // (A crash midway needs two tenants: one done, one still running.)
    for (let crash = 2; crash <= CRASHES && failed.length >= 2; crash++) {
      await settled(ids, ACTIVE);
      inFlight.push(await crashMidway(failed, retry, "succeeded", ACTIVE));
      api = await startService(true);
      failed = await failedAfterRestart();
    }

    // Retry whatever failed until every onboarding has succeeded.
    for (let round = 0; ; round++) {
      const now = await settled(ids, ACTIVE);
      const notDone = ids.filter((id) => now.get(id)?.status !== "succeeded");
      if (notDone.length === 0) break;
      expect(
        round,
        `not succeeded: ${notDone.map((id) => `${id} ${JSON.stringify(now.get(id)?.error)}`)}`,
      ).toBeLessThan(3);
      for (const id of notDone) {
        expect(now.get(id)?.status, id).toBe("failed");
        await retry(id);
      }
    }

    // Nothing created twice in any tenant, and no write made twice, even when a crash cut off its answer.
    const problems: string[] = [];
    for (const [id, body] of bodies) problems.push(...tenantProblems(body, await control.tenant(id)));
    expect(problems).toEqual([]);
    const calls = await control.calls();
    const writes = calls.filter((c) => c.write && c.status === 200).length;
    const faults = calls.filter((c) => c.fault !== undefined).length;
    expect(writes).toBe([...bodies.values()].reduce((n, b) => n + expectedWrites(b), 0));

    const { report, total } = await checkEvents(ids, (id, list) =>
      historyProblems(bodies.get(id)!, list, interruptions.get(id) ?? 0),
    );
    const interrupted = [...interruptions.values()].reduce((n, k) => n + k, 0);
    // The suite is only worth something if the crashes cut onboardings off.
    expect(interrupted).toBeGreaterThan(0);
    console.log(
      `crash: ${count(ONBOARDINGS)} onboardings, ${inFlight.length} SIGKILL(s) with ${inFlight.join("/")} in flight ` +
        `(+${startupCrashes} during the restart), ${count(faults)} Microsoft 365 faults, ${interrupted} interrupted, ` +
        `${retries} retries, all succeeded; ` +
        `${count(writes)} Microsoft 365 writes (none repeated), 0 duplicated objects; ${count(total)} events, ` +
        `sequences 1..n, 0 lost, 0 out of order, ${count(report.duplicates)} duplicate deliveries, ` +
        `${count(receiver.rejected)} refused by the receiver`,
    );
  });

  it("offboarding them survives a SIGKILL: what was created is removed, the NDR address restored", async () => {
    const ids = [...bodies.keys()];
    expect(ids.length, "the onboarding test ran").toBe(ONBOARDINGS);
    const offboard = async (tenantId: string) => {
      const res = await api.call("DELETE", `/v1/tenants/${tenantId}`, { key: partnerKey });
      expect(res.status, res.text).toBe(202);
    };
    const inFlight = await crashMidway(ids, offboard, "offboarded", ["offboarding"]);
    const startupCrashesBefore = startupCrashes;
    api = await startService(true);
    const interruptions = new Map<string, number>();
    for (let round = 0; ; round++) {
      const now = await settled(ids, ["offboarding"]);
      const notDone = ids.filter((id) => now.get(id)?.status !== "offboarded");
      if (notDone.length === 0) break;
      expect(
        round,
        `not offboarded: ${notDone.map((id) => `${id} ${JSON.stringify(now.get(id)?.error)}`)}`,
      ).toBeLessThan(3);
      for (const id of notDone) {
        expect(now.get(id)?.status, id).toBe("offboarding_failed");
        expect(now.get(id)?.error?.code, id).toBe("INTERRUPTED");
        interruptions.set(id, (interruptions.get(id) ?? 0) + 1);
        await offboard(id);
      }
    }

    // Every tenant is as it was before onboarding.
    const problems: string[] = [];
    for (const id of ids) {
      const t = await control.tenant(id);
      const left = [
        ...t.connectors.map((c) => `connector ${c.name}`),
        ...t.journalRules.map((r) => `journal rule ${r.name}`),
        ...t.groups.filter((g) => !g.seeded).map((g) => `group ${g.name}`),
      ];
      if (left.length > 0) problems.push(`${id}: left ${left.join(", ")}`);
      if (t.journalingReportNdrTo !== initialNdr.get(id)) {
        problems.push(`${id}: JournalingReportNdrTo ${t.journalingReportNdrTo}, was ${initialNdr.get(id)}`);
      }
    }
    expect(problems).toEqual([]);

    const { report, total } = await checkEvents(ids, (id, list) => {
      const off = list.filter((e) => e.type.startsWith("tenant.offboarding."));
      const failures = off.filter((e) => e.type === "tenant.offboarding.failed");
      const expected = interruptions.get(id) ?? 0;
      return [
        ...(list.at(-1)?.type === "tenant.offboarding.succeeded" && off.length === failures.length + 1
          ? []
          : [`${id}: offboarding events [${off.map((e) => e.type).join(", ")}]`]),
        ...(failures.length === expected && failures.every((e) => e.data.error?.code === "INTERRUPTED")
          ? []
          : [`${id}: ${failures.length} offboarding failures, expected ${expected} INTERRUPTED`]),
      ];
    });
    const interrupted = [...interruptions.values()].reduce((n, k) => n + k, 0);
    expect(interrupted).toBeGreaterThan(0);
    console.log(
      `crash/offboarding: ${count(ids.length)} offboardings, 1 SIGKILL with ${inFlight} in flight ` +
        `(+${startupCrashes - startupCrashesBefore} during the restart), ${interrupted} interrupted and offboarded again; nothing left in any tenant, ` +
        `every NDR address restored; ${count(total)} events in all, 0 lost, 0 out of order, ` +
        `${count(report.duplicates)} duplicate deliveries`,
    );
  });
});
