/**
 * Chaos: many onboardings through the HTTP API of the whole local service while Microsoft 365
 * (the simulator) throttles, fails and drops connections at random, some writes are applied
 * but their answer is lost, and the partner's webhook receiver refuses or drops deliveries.
 * Every onboarding must succeed with nothing created twice, and every event must reach the
 * receiver, signed, in per-tenant order.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../infra/local/runtime.ts";
import { type ApiClient, apiClient, type Json, waitUntil } from "./support/api.ts";
import { compareDeliveries, flakyReceiver, type Receiver, startReceiver } from "./support/receiver.ts";
import { count, sized, TEST_TIMEOUT_MS } from "./support/scale.ts";
import {
  historyProblems,
  isHistoryOnly,
  type ListedEvent,
  type OnboardingBody,
  onboardingBody,
  sequenceProblems,
  tenantProblems,
} from "./support/tenants.ts";

const ONBOARDINGS = sized(20, 100);
const SEED = 20_251_127;
/** Writes whose effect lands but whose answer is lost, one per tenant in turn. */
const LOST_ANSWER_CMDLETS = [
  "New-JournalRule",
  "Set-TransportConfig",
  "New-OutboundConnector",
  "New-DistributionGroup",
];

let dataDir: string;
let runtime: LocalRuntime;
let api: ApiClient;
let receiver: Receiver;
let partner: { partnerId: string; apiKey: string };
let partnerKey: string;
const bodies: OnboardingBody[] = [];

beforeAll(async () => {
  process.env["POWERTOOLS_LOG_LEVEL"] ??= "ERROR";
  dataDir = await mkdtemp(join(tmpdir(), "chaos-"));
  receiver = await startReceiver(flakyReceiver(0.1, 0.05));
  runtime = await startLocalRuntime({
    port: 0,
    dataDir,
    // No M365_* (the built-in simulator) and no OPS_API_KEY (generated).
    env: {
      WEBHOOK_RETRY_SCHEDULE: "20ms,50ms,100ms,200ms,400ms,800ms",
      // The receiver is on loopback (a development setting), and the load is ours, not a partner's.
      WEBHOOK_ALLOW_LOOPBACK: "true",
      PARTNER_RATE_LIMIT_RPS: "10000",
      PARTNER_RATE_LIMIT_BURST: "10000",
    },
    retryScale: 0.001,
    simulator: {
      seed: SEED,
      faults: { throttleRate: 0.2, retryAfterSeconds: 0, serverErrorRate: 0.1, dropRate: 0.02 },
    },
    logger: new Logger({ serviceName: "chaos", logLevel: "ERROR" }),
  });
  api = apiClient(runtime.url, runtime.opsApiKey);
  partner = await api.createPartner("chaos");
  partnerKey = partner.apiKey;
  const hook = await api.call("PUT", "/v1/webhook", { key: partnerKey, body: { url: receiver.url } });
  expect(hook.status, hook.text).toBe(200);
  receiver.setSecret(hook.body.secret);
});

afterAll(async () => {
  await runtime?.close({ graceMs: 1_000 });
  await receiver?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("chaos", { timeout: TEST_TIMEOUT_MS }, () => {
  it(`${ONBOARDINGS} onboardings under Microsoft 365 faults lose and duplicate nothing`, async () => {
    const sim = runtime.simulator!;
    let lostAnswers = 0;
    /** `tenantId cmdlet` of each write whose answer is lost after it applied. */
    const lostAt: string[] = [];
    for (let i = 0; i < ONBOARDINGS; i++) {
      const body = onboardingBody("chaos", i);
      bodies.push(body);
      const cmdlet = LOST_ANSWER_CMDLETS[i % LOST_ANSWER_CMDLETS.length]!;
      const applies =
        (cmdlet !== "New-OutboundConnector" || body.outboundGateway) &&
        (cmdlet !== "New-DistributionGroup" || body.region === "split");
      if (applies) {
        sim.failNext(body.tenantId, cmdlet, { kind: "drop", afterApplying: true });
        lostAnswers++;
        lostAt.push(`${body.tenantId} ${cmdlet}`);
      }
    }
    for (const body of bodies) {
      const res = await api.onboard(partner, body);
      expect(res.status, res.text).toBe(202);
    }

    // Every onboarding ends, and ends well (no manual retry: the workflow's own retries suffice).
    const tenants: Json[] = await waitUntil(
      "every onboarding to end",
      async () => {
        const items = await api.listAll("/v1/tenants", partnerKey);
        return items.every((t) => !["queued", "running"].includes(t.status)) ? items : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 250 },
    );
    expect(tenants).toHaveLength(ONBOARDINGS);
    const notSucceeded = tenants
      .filter((t) => t.status !== "succeeded")
      .map((t) => `${t.tenantId} ${t.status} ${JSON.stringify(t.error)}`);
    expect(notSucceeded).toEqual([]);

    // Nothing created twice, nothing missing, in any tenant.
    const problems = bodies.flatMap((b) => tenantProblems(b, sim.tenant(b.tenantId)));
    expect(problems).toEqual([]);

    // Every listed event reached the receiver with a valid signature, in order.
    const events = new Map<string, ListedEvent[]>();
    for (const b of bodies) {
      const list = (await api.listAll(`/v1/tenants/${b.tenantId}/events`, partnerKey)) as ListedEvent[];
      expect(sequenceProblems(b.tenantId, list)).toEqual([]);
      expect(historyProblems(b, list)).toEqual([]);
      // History-only events (tenant.bound_by_ops) are never delivered.
      events.set(
        b.tenantId,
        list.filter((e) => !isHistoryOnly(e.type)),
      );
    }
    const total = [...events.values()].reduce((n, l) => n + l.length, 0);
    await waitUntil(
      "every event at the receiver",
      async () => (compareDeliveries(events, receiver.received).lost.length === 0 ? true : undefined),
      {
        timeoutMs: 60_000,
        describe: async () => compareDeliveries(events, receiver.received).lost.slice(0, 5).join("; "),
      },
    );
    await runtime.webhooks.dispatcher.idle();
    const report = compareDeliveries(events, receiver.received);
    expect(report.lost).toEqual([]);
    expect(report.invalid).toBe(0);
    expect(report.outOfOrder).toEqual([]);
    expect(report.mismatched).toEqual([]);
    expect(report.unknown).toEqual([]);

    const calls = sim.calls();
    const faults = {
      429: calls.filter((c) => c.status === 429).length,
      503: calls.filter((c) => c.status === 503).length,
      dropped: calls.filter((c) => c.status === 0).length,
    };
    const injected = faults[429] + faults[503] + faults.dropped;
    // The suite is only worth something if the faults happened.
    expect(faults[429]).toBeGreaterThan(0);
    expect(faults[503]).toBeGreaterThan(0);
    expect(faults.dropped).toBeGreaterThan(0);
    // Every answer lost after its write was lost indeed (and the tenant still ended right).
    expect(lostAnswers).toBeGreaterThan(0);
    const droppedWrites = new Set(
      calls.filter((c) => c.write && c.fault === "drop").map((c) => `${c.tenantId} ${c.operation}`),
    );
    expect(lostAt.filter((k) => !droppedWrites.has(k))).toEqual([]);
    console.log(
      `chaos: ${count(ONBOARDINGS)} onboardings, ${count(calls.length)} Microsoft 365 calls, ` +
        `${count(injected)} faults injected (${count(faults[429])} 429, ${count(faults[503])} 503, ` +
        `${count(faults.dropped)} dropped, ${lostAnswers} of them after the write), ` +
        `${count(total)} events, ${count(receiver.rejected)} deliveries refused by the receiver; ` +
        `0 failed, 0 duplicated objects, 0 events lost or out of order, ` +
        `${count(report.duplicates)} duplicate deliveries`,
    );
  });
});
