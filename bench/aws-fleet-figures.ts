/**
 * Figures of a fleet run on the AWS form (bench/aws-form.ts): where an onboarding's time goes
 * (its steps, the gaps between them, the Exchange simulator's latency), token requests per
 * tenant and resource, Exchange requests in flight per tenant, the DynamoDB units of one drift
 * tick, and what 1,000 onboardings cost at list prices.
 */
import { nextTickOf, tenantPhase, ticksPerInterval } from "../functions/domain/drift-ticks.ts";
import { maxInFlight } from "../infra/local/m365-simulator/in-flight.ts";
import type { SimCall } from "../infra/local/m365-simulator/types.ts";
import type { AwsForm, FormStats, Json } from "../test/aws/support/form.ts";
import { PRICES } from "./cost.ts";
import { median, percentile, round } from "./harness.ts";

const MEMORY_GB = 512 / 1024;
/** The drift schedule's rule in the template, and the stack's default interval. */
const DRIFT_RULE = "WorkflowDriftCheckTickC2F18183";
const DRIFT_INTERVAL_MS = 6 * 3_600_000;

/** The form's counters that the figures take deltas of. */
export interface Counters {
  cold: Record<string, number>;
  invocations: Record<string, number>;
  throttles: Record<string, number>;
  billedMs: Record<string, number>;
  calls: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  /** DynamoDB units by the logical id of the calling function. */
  unitsBy: Record<string, { readUnits: number; writeUnits: number }>;
  dynamoRequests: number;
}

/** The units of the functions whose logical id contains one of `names`. */
function unitsOf(c: Counters, ...names: string[]) {
  const mine = Object.entries(c.unitsBy).filter(([id]) => names.some((n) => id.includes(n)));
  return {
    readUnits: mine.reduce((a, [, u]) => a + u.readUnits, 0),
    writeUnits: mine.reduce((a, [, u]) => a + u.writeUnits, 0),
  };
}

export async function counters(form: AwsForm): Promise<Counters> {
  const s = (await form.stats()) as FormStats & { dynamodb?: Json };
  const per = (f: (x: Json) => number) =>
    Object.fromEntries(Object.entries(s.lambda).map(([id, x]) => [id, f(x)]));
  const requests = Object.values((s.dynamodb?.requests ?? {}) as Record<string, number>);
  return {
    cold: per((x) => x.coldStarts),
    invocations: per((x) => x.invocations),
    throttles: per((x) => x.throttles),
    billedMs: per((x) => x.billedMs ?? 0),
    calls: { ...s.calls },
    readUnits: s.dynamodb?.readUnits ?? 0,
    writeUnits: s.dynamodb?.writeUnits ?? 0,
    unitsBy: (s.dynamodb?.byCaller ?? {}) as Counters["unitsBy"],
    dynamoRequests: requests.reduce((a, b) => a + b, 0),
  };
}

/** `after - before`, field by field (per function for the Lambda counters). */
export function delta(before: Counters, after: Counters): Counters {
  const sub = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.keys(a).map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)]));
  return {
    cold: sub(after.cold, before.cold),
    invocations: sub(after.invocations, before.invocations),
    throttles: sub(after.throttles, before.throttles),
    billedMs: sub(after.billedMs, before.billedMs),
    calls: sub(after.calls, before.calls),
    readUnits: after.readUnits - before.readUnits,
    writeUnits: after.writeUnits - before.writeUnits,
    unitsBy: Object.fromEntries(
      Object.entries(after.unitsBy).map(([id, u]) => [
        id,
        {
          readUnits: u.readUnits - (before.unitsBy[id]?.readUnits ?? 0),
          writeUnits: u.writeUnits - (before.unitsBy[id]?.writeUnits ?? 0),
        },
      ]),
    ),
    dynamoRequests: after.dynamoRequests - before.dynamoRequests,
  };
}

export const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * Per tenant: from its first step's start to its last step's end, and the share of that span in
 * which no step ran (steps that overlap count once).
 */
export function stepTimes(items: Json[]) {
  const spans: number[] = [];
  let spanTotal = 0;
  let idleTotal = 0;
  for (const t of items) {
    const timed = (t.steps as Json[])
      .filter((s) => s.startedAt && s.finishedAt)
      .map((s) => [Date.parse(s.startedAt), Date.parse(s.finishedAt)] as const)
      .sort((a, b) => a[0] - b[0]);
    if (timed.length === 0) continue;
    const start = timed[0]![0];
    let reached = start;
    let idle = 0;
    for (const [from, to] of timed) {
      if (from > reached) idle += from - reached;
      reached = Math.max(reached, to);
    }
    spans.push(reached - start);
    spanTotal += reached - start;
    idleTotal += idle;
  }
  return {
    medianSpanS: round(median(spans) / 1000, 1),
    p95SpanS: round(percentile(spans, 95) / 1000, 1),
    /** Share of the spans in which no step ran (Step Functions, Lambda starts and concurrency waits). */
    betweenStepsShare: round((100 * idleTotal) / Math.max(1, spanTotal), 1),
  };
}

/** Token requests per tenant by resource, and Exchange requests per tenant. */
export function simulatorCalls(calls: SimCall[], tenants: Set<string>) {
  const mine = calls.filter((c) => tenants.has(c.tenantId));
  const tokens: Record<string, number> = {};
  for (const c of mine.filter((c) => c.service === "identity" && c.operation === "token")) {
    const resource = c.resource || "(none named)";
    tokens[resource] = (tokens[resource] ?? 0) + 1;
  }
  const n = Math.max(1, tenants.size);
  return {
    tokensPerTenant: round(total(tokens) / n, 2),
    tokensPerResource: Object.fromEntries(Object.entries(tokens).map(([r, k]) => [r, round(k / n, 2)])),
    exchangePerTenant: round(mine.filter((c) => c.service === "exchange").length / n, 1),
    graphPerTenant: round(mine.filter((c) => c.service === "graph").length / n, 1),
    throttledBySimulator: mine.filter((c) => c.status === 429 || c.fault === "throttle").length,
  };
}

/**
 * Exchange requests in flight per tenant, the most seen over the whole run (the simulator's call
 * log records how many of the tenant's requests were in flight as each one entered), and the
 * configured cap it is held to.
 */
export async function exchangeInFlight(form: AwsForm, calls: SimCall[]) {
  const config = await form.sim.config();
  return { max: maxInFlight(calls).max, cap: config.maxConcurrentPerTenant };
}

/**
 * One steady drift tick at the stack's interval, a full interval after the fleet succeeded: the
 * tick before it is fired first (it catches up the ticks it missed), then this one; its DynamoDB
 * units (the fan-out's read of the sparse index, then the checks it started) and its due tenants.
 */
export async function driftTick(form: AwsForm, key: string, tenantIds: string[]) {
  const after = Date.now() + DRIFT_INTERVAL_MS;
  const tick = nextTickOf(tenantIds[0]!, DRIFT_INTERVAL_MS, after + 3_600_000);
  await form.control("fire-rule", { rule: DRIFT_RULE, time: new Date(tick - 300_000).toISOString() });
  const due = tenantIds.filter((id) => nextTickOf(id, DRIFT_INTERVAL_MS, tick) === tick);
  const checkedBefore = new Map<string, string | undefined>();
  for (const id of due) checkedBefore.set(id, (await form.tenant(id, key)).drift?.checkedAt);
  // The previous tick's checks settle before this one is measured.
  await new Promise((r) => setTimeout(r, 5_000));
  const before = await counters(form);
  await form.control("fire-rule", { rule: DRIFT_RULE, time: new Date(tick).toISOString() });
  // The tick's own work only: the fan-out function's units, then the checks' (the task
  // function); the webhook functions' backlog of the fleet's events may still run meanwhile.
  const fanOut = unitsOf(delta(before, await counters(form)), "DriftFanOut");
  const deadline = Date.now() + 180_000;
  let open = [...due];
  while (open.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2_000));
    const still: string[] = [];
    for (const id of open) {
      const checked = (await form.tenant(id, key)).drift?.checkedAt;
      if (checked === checkedBefore.get(id)) still.push(id);
    }
    open = still;
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const all = delta(before, await counters(form));
  const tickUnits = unitsOf(all, "DriftFanOut", "WorkflowTask");
  return {
    due: due.length,
    notChecked: open.length,
    phaseOfFirst: tenantPhase(tenantIds[0]!),
    fanOut,
    readUnits: tickUnits.readUnits,
    writeUnits: tickUnits.writeUnits,
    otherUnits: {
      readUnits: all.readUnits - tickUnits.readUnits,
      writeUnits: all.writeUnits - tickUnits.writeUnits,
    },
    expressStarts: all.calls["states:StartExecution"] ?? 0,
  };
}

/**
 * Units of a tick at `tenants` by arithmetic from a measured tick: a tick holds tenants / 72 of
 * them, and the units of the fan-out (it reads only the tick's entries of the sparse index) and
 * of the checks it starts grow with them: the measured units per due tenant times the due tenants.
 */
export function tickAt(tick: Awaited<ReturnType<typeof driftTick>>, tenants: number) {
  // Every tenant comes up once in the interval's ticks; the measured tick was picked to hold one.
  const due = tenants / ticksPerInterval(DRIFT_INTERVAL_MS);
  const per = (units: number) => (tick.due ? units / tick.due : 0);
  return {
    due: Math.round(due),
    readUnits: round(per(tick.readUnits) * due, 0),
    writeUnits: round(per(tick.writeUnits) * due, 0),
  };
}

/**
 * $ per 1,000 onboardings at list prices from the counters of the fleet's phase (`d`, over
 * `tenants`): Lambda requests and GB-s, API Gateway requests (the API function's invocations:
 * the import's POSTs, the consent callbacks and the polls a partner's script makes), DynamoDB
 * units, SQS requests of the webhook queue, and Standard state transitions per onboarding.
 */
export function costPer1000(d: Counters, tenants: number, transitionsPerOnboarding: number) {
  const per = (x: number) => (1000 * x) / tenants;
  const sqsRequests = Object.entries(d.calls)
    .filter(([k]) => k.startsWith("sqs:"))
    .reduce((a, [, v]) => a + v, 0);
  const parts = {
    lambda: per(
      total(d.invocations) * PRICES.lambdaPerRequest +
        (total(d.billedMs) / 1000) * MEMORY_GB * PRICES.lambdaArmPerGbSecond,
    ),
    apiGateway: per((d.invocations["ApiHandler8AD6A8DF"] ?? 0) * PRICES.apiGatewayRestPerRequest),
    dynamodb: per(d.readUnits * PRICES.dynamoDbPerReadUnit + d.writeUnits * PRICES.dynamoDbPerWriteUnit),
    sqs: per(sqsRequests * PRICES.sqsFifoPerRequest),
    stepFunctions: 1000 * transitionsPerOnboarding * PRICES.stepFunctionsStandardPerTransition,
  };
  const rounded = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v, 4)]));
  return { ...rounded, total: round(total(parts), 4) } as Record<keyof typeof parts | "total", number>;
}
