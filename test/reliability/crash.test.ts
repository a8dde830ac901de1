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
import { generateApiKey } from "../../functions/domain/onboarding.ts";
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
import { count, sized } from "./support/scale.ts";
import {
  historyProblems,
  type ListedEvent,
  type OnboardingBody,
  onboardingBody,
  sequenceProblems,
  tenantProblems,
} from "./support/tenants.ts";

const ONBOARDINGS = sized(8, 20);
/** SIGKILLs: the first while the onboardings run, the others while the retries run. */
const CRASHES = sized(1, 3);
const ACTIVE = ["queued", "running"];

let root: string;
let simulator: SimulatorChild;
let control: RemoteSimulatorControl;
let service: ServiceChild | undefined;
let receiver: Receiver;
const opsKey = generateApiKey();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "crash-"));
  // Latency keeps several onboardings in flight at once; no random faults: the crash is the fault.
  simulator = await startSimulatorProcess(join(root, "m365"), [
    "--latency",
    String(sized(60, 120)),
    "--seed",
    "11",
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

async function statuses(api: ApiClient, partnerKey: string): Promise<Map<string, Json>> {
  const items = await api.listAll("/v1/tenants", partnerKey);
  return new Map(items.map((t) => [t.tenantId, t]));
}

/**
 * Starts `start(tenantId)` for each tenant in turn, each once the previous one runs, so that
 * they are spread over the workflow; then SIGKILLs the service as soon as one of them has
 * succeeded while others are still in flight. Returns how many were in flight then.
 */
async function crashMidway(
  api: ApiClient,
  partnerKey: string,
  tenantIds: string[],
  start: (tenantId: string) => Promise<void>,
): Promise<number> {
  for (const tenantId of tenantIds) {
    await start(tenantId);
    await waitUntil(
      `${tenantId} to run`,
      async () => ((await statuses(api, partnerKey)).get(tenantId)?.status !== "queued" ? true : undefined),
      { intervalMs: 10 },
    );
  }
  const inFlight = await waitUntil(
    "one onboarding done while another runs",
    async () => {
      const now = await statuses(api, partnerKey);
      const mine = tenantIds.map((id) => now.get(id)?.status);
      const running = mine.filter((s) => ACTIVE.includes(s)).length;
      return mine.includes("succeeded") && running > 0 ? running : undefined;
    },
    { intervalMs: 10 },
  );
  await service!.kill();
  return inFlight;
}

describe("crash", () => {
  it(`${ONBOARDINGS} onboardings survive ${CRASHES} SIGKILL(s) of the service`, async () => {
    const bodies = new Map<string, OnboardingBody>();
    for (let i = 0; i < ONBOARDINGS; i++) {
      const body = onboardingBody("crash", i);
      bodies.set(body.tenantId, body);
    }
    const ids = [...bodies.keys()];

    let api = await startService();
    const partnerKey = (await api.createPartner("crash")).apiKey;
    const hook = await api.call("PUT", "/v1/webhook", { key: partnerKey, body: { url: receiver.url } });
    expect(hook.status, hook.text).toBe(200);
    receiver.setSecret(hook.body.secret);

    let interrupted = 0;
    const interruptions = new Map<string, number>();
    let retries = 0;
    const retry = async (tenantId: string) => {
      const res = await api.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partnerKey });
      expect(res.status, res.text).toBe(202);
      retries++;
    };
    /** After a restart: every tenant the crash cut off is failed with INTERRUPTED, nothing is left running. */
    const failedAfterRestart = async (): Promise<string[]> => {
      const now = await statuses(api, partnerKey);
      const failed = ids.filter((id) => now.get(id)?.status === "failed");
      for (const id of ids) expect(ACTIVE, id).not.toContain(now.get(id)?.status);
      for (const id of failed) expect(now.get(id)?.error?.code, id).toBe("INTERRUPTED");
      interrupted += failed.length;
      for (const id of failed) interruptions.set(id, (interruptions.get(id) ?? 0) + 1);
      return failed;
    };

    // Crash 1: while the onboardings run.
    let inFlightAtCrash = await crashMidway(api, partnerKey, ids, async (tenantId) => {
      const res = await api.call("POST", "/v1/tenants", { key: partnerKey, body: bodies.get(tenantId) });
      expect(res.status, res.text).toBe(202);
    });
    const inFlight = [inFlightAtCrash];
    api = await startService(true);
    let failed = await failedAfterRestart();

    // Further crashes: while the retries of the interrupted tenants run.
    for (let crash = 2; crash <= CRASHES && failed.length > 0; crash++) {
      await waitUntil("no tenant in flight", async () => {
        const now = await statuses(api, partnerKey);
        return ids.some((id) => ACTIVE.includes(now.get(id)?.status)) ? undefined : true;
      });
      inFlightAtCrash = await crashMidway(api, partnerKey, failed, retry);
      inFlight.push(inFlightAtCrash);
      api = await startService(true);
      failed = await failedAfterRestart();
    }

    // Retry whatever failed until every onboarding has succeeded.
    for (let round = 0; ; round++) {
      const now = await waitUntil(
        "no tenant in flight",
        async () => {
          const s = await statuses(api, partnerKey);
          return ids.some((id) => ACTIVE.includes(s.get(id)?.status)) ? undefined : s;
        },
        { intervalMs: 100 },
      );
      const notDone = ids.filter((id) => now.get(id)?.status !== "succeeded");
      if (notDone.length === 0) break;
      expect(
        round,
        `still not succeeded: ${notDone.map((id) => `${id} ${JSON.stringify(now.get(id)?.error)}`)}`,
      ).toBeLessThan(3);
      for (const id of notDone) {
        expect(now.get(id)?.status, id).toBe("failed");
        await retry(id);
      }
    }

    // Nothing created twice in any tenant.
    const problems: string[] = [];
    for (const [id, body] of bodies) problems.push(...tenantProblems(body, await control.tenant(id)));
    expect(problems).toEqual([]);

    // Events 1..n per tenant, each delivered at least once, signed, in order.
    const events = new Map<string, ListedEvent[]>();
    for (const id of ids) {
      const list = (await api.listAll(`/v1/tenants/${id}/events`, partnerKey)) as ListedEvent[];
      expect(sequenceProblems(id, list)).toEqual([]);
      expect(historyProblems(bodies.get(id)!, list, interruptions.get(id) ?? 0)).toEqual([]);
      events.set(id, list);
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
    // The suite is only worth something if the crashes cut onboardings off.
    expect(interrupted).toBeGreaterThan(0);

    const total = [...events.values()].reduce((n, l) => n + l.length, 0);
    const writes = (await control.calls()).filter((c) => c.write && c.status === 200).length;
    console.log(
      `crash: ${count(ONBOARDINGS)} onboardings, ` +
        `${CRASHES} SIGKILL(s) with ${inFlight.join("/")} in flight (+${startupCrashes} during the restart), ` +
        `${interrupted} interrupted, ` +
        `${retries} retries, all succeeded; ${count(writes)} Microsoft 365 writes, 0 duplicated objects; ` +
        `${count(total)} events, sequences 1..n, 0 lost, 0 out of order, ` +
        `${count(report.duplicates)} duplicate deliveries, ${count(receiver.rejected)} refused by the receiver`,
    );
  });
});
