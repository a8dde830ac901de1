/**
 * Benchmark on the deployed form (`npm run start:aws`), measured instead of modelled, with the
 * template's own limits (reserved concurrency, the stage's and usage plan's throttles, the
 * webhook queue's event source concurrency) and the workflow's own retry intervals:
 *
 * 1. one onboarding alone (a cold fleet): cold starts;
 * 2. a partner's fleet: `tenants import` of TENANTS rows (every mode) through the CLI, each
 *    customer's consent through its link, until every tenant has ended (test/aws/support/fleet.ts):
 *    the time, where it goes, cold starts, Lambda throttles, tokens per tenant and resource,
 *    Exchange requests in flight per tenant, DynamoDB, and $ per 1,000 onboardings;
 * 3. one drift tick a full interval later: its DynamoDB units, and by arithmetic at 100,000 tenants.
 *
 * TENANTS: `node bench/run.ts aws-form --tenants 1000` (default 100; BENCH_AWS_TENANTS also); the
 * fleet stops after BENCH_AWS_MINUTES (90) from the import's start, the tenants not ended by then failed.
 * It prints figures and ratios, asserts no timing; the machine's load average is in results.json.
 */
import { availableParallelism, loadavg } from "node:os";
import { type FleetRun, runFleet } from "../test/aws/support/fleet.ts";
import { AwsForm, type Json } from "../test/aws/support/form.ts";
import {
  type Counters,
  costPer1000,
  counters,
  delta,
  driftTick,
  exchangeInFlight,
  simulatorCalls,
  stepTimes,
  tickAt,
  total,
} from "./aws-fleet-figures.ts";
import { PRICES } from "./cost.ts";
import { type Cell, log, type Result, round } from "./harness.ts";

const TENANTS = Number(process.env["BENCH_AWS_TENANTS"] ?? 100);
/** How long the fleet may take from the import's start (BENCH_AWS_MINUTES): tenants left then count as failed. */
const MINUTES = Number(process.env["BENCH_AWS_MINUTES"] ?? 90);
/** Standard state transitions per onboarding, as the cost benchmark counts them on the same definition. */
const TRANSITIONS_PER_ONBOARDING = 6;
/** The consent callback's stage throttle in the template (requests per second). */
const CONSENT_RATE = 5;
const API_FN = "ApiHandler8AD6A8DF";
const LATENCY_MS = 100;
const TASK_FN = "WorkflowWorkflowTaskFC450ECC";

export async function run(): Promise<Result> {
  const loadAtStart = loadavg();
  const form = new AwsForm({ LOG_LEVEL: "ERROR", WORKFLOW_RETRY_SCALE: "1" });
  await form.start();
  try {
    // As the other benchmarks: a fixed latency per Microsoft 365 request.
    await form.sim.configure({ latencyMs: LATENCY_MS });
    log(`form serving after ${form.startedInMs} ms; fleet of ${TENANTS}`);
    const cold = await coldOnboarding(form);
    log(`one alone: ${JSON.stringify(cold)}`);
    const before = await counters(form);
    let ended: Counters | undefined;
    const fleet = await runFleet(form, {
      tenants: TENANTS,
      timeoutMs: MINUTES * 60_000,
      // A second start shows in a tenant's events; every start in the form's StartExecution count.
      eventsOf: 100,
      secondImport: false,
      onProgress: (line) => log(line),
      onEnded: async () => {
        ended = await counters(form);
      },
    });
    const d = delta(before, ended ?? (await counters(form)));
    const ids = fleet.items.map((t: Json) => t.tenantId as string);
    const calls = await form.sim.calls();
    const sim = simulatorCalls(calls, new Set(ids));
    const inFlight = await exchangeInFlight(form, calls);
    const partnerKey = fleet.partnerKey;
    const tick = await driftTick(form, partnerKey, ids);
    log(`drift tick: ${JSON.stringify(tick)}`);
    const latencyMs = (await form.sim.config()).latencyMs;
    const load = [loadAtStart, loadavg()].map((l) => l.map((x) => round(x, 1)).join(" / "));
    return report({ cold, fleet, d, sim, inFlight, tick, latencyMs, load });
  } finally {
    await form.close();
  }
}

/** One onboarding on a cold fleet: its cold starts and time. */
async function coldOnboarding(form: AwsForm) {
  const partner = await form.createPartner("Bench MSP");
  const before = await counters(form);
  const started = performance.now();
  const { tenantId } = await form.onboard(partner.apiKey, { outboundGateway: true });
  const end = await form.waitFor(tenantId, partner.apiKey, ["succeeded", "failed"], 600_000);
  const d = delta(before, await counters(form));
  return {
    status: end.status as string,
    seconds: round((performance.now() - started) / 1000, 1),
    cold: d.cold,
  };
}

interface Figures {
  cold: Awaited<ReturnType<typeof coldOnboarding>>;
  fleet: FleetRun;
  d: Counters;
  sim: ReturnType<typeof simulatorCalls>;
  inFlight: Awaited<ReturnType<typeof exchangeInFlight>>;
  tick: Awaited<ReturnType<typeof driftTick>>;
  latencyMs: number | undefined;
  /** The machine's load average (1/5/15 min) at the start and the end of the run. */
  load: string[];
}

function report(f: Figures): Result {
  const { fleet, d } = f;
  const n = fleet.tenants;
  const failed = n - (fleet.statuses["succeeded"] ?? 0);
  const steps = stepTimes(fleet.items);
  const cost = costPer1000(d, n, TRANSITIONS_PER_ONBOARDING);
  const at100k = tickAt(f.tick, 100_000);
  const onboardAfterConsents = fleet.totalSeconds - fleet.importSeconds - fleet.consentSeconds;
  const wall = fleet.totalSeconds;
  const busy = (fn: string) => round((d.billedMs[fn] ?? 0) / 1000 / wall, 1);
  const rows: Record<string, Cell>[] = [];
  const row = (figure: string, value: Cell, notes = "") => rows.push({ figure, value, notes });
  row(
    "tenants imported (every mode)",
    n,
    `${failed} failed, ${fleet.duplicateIds} listed twice; ${d.calls["states:StartExecution"] ?? 0} StartExecution calls (drift checks of the 5-minute schedule included); ${fleet.startedTwice.length} of ${fleet.eventsRead} tenants' events started twice`,
  );
  row("time to onboard them all (s)", round(wall, 1), `${round(n / wall, 2)} tenants/s`);
  row(
    "  import (s)",
    round(fleet.importSeconds, 1),
    `${round(n / fleet.importSeconds, 1)} rows/s at --concurrency 16`,
  );
  row(
    "  consents (s)",
    round(fleet.consentSeconds, 1),
    `floor ${round(n / CONSENT_RATE, 0)} s at the callback's ${CONSENT_RATE} req/s; ${fleet.consentThrottles} answered 429`,
  );
  row("  after the last consent (s)", round(onboardAfterConsents, 1), "the last onboardings finishing");
  row(
    "onboarding span, median / p95 (s)",
    `${steps.medianSpanS} / ${steps.p95SpanS}`,
    `first step start to last step end; no step running ${steps.betweenStepsShare}% of it`,
  );
  row(
    "Exchange simulator latency per request (ms)",
    f.latencyMs ?? null,
    `${f.sim.exchangePerTenant} Exchange + ${f.sim.graphPerTenant} Graph requests per tenant`,
  );
  row("cold starts (one alone)", total(f.cold.cold), f.cold.status);
  row("cold starts (fleet)", total(d.cold), coldByFunction(d));
  row("Lambda throttles (fleet)", total(d.throttles), "TooManyRequestsException, retried by the workflow");
  row(
    "API function busy (avg concurrent)",
    busy(API_FN),
    `of 100 reserved; ${round((d.billedMs[API_FN] ?? 0) / Math.max(1, d.invocations[API_FN] ?? 0), 0)} ms per invocation`,
  );
  row(
    "task function busy (avg concurrent)",
    busy(TASK_FN),
    `${round((d.invocations[TASK_FN] ?? 0) / n, 1)} invocations per tenant`,
  );
  row("tokens per tenant", f.sim.tokensPerTenant, JSON.stringify(f.sim.tokensPerResource));
  row(
    "Exchange requests in flight per tenant (max)",
    f.inFlight.max,
    `the simulator's log over the whole run (cold onboarding, fleet, drift tick); ${f.inFlight.cap ? `the simulator refuses past ${f.inFlight.cap}` : "no cap set in the simulator"}`,
  );
  row(
    "DynamoDB per onboarding (requests / RCU / WCU)",
    `${round(d.dynamoRequests / n, 1)} / ${round(d.readUnits / n, 1)} / ${round(d.writeUnits / n, 1)}`,
    "polls of the partner's list included",
  );
  row(
    `DynamoDB units per drift tick at ${n} (RCU / WCU)`,
    `${round(f.tick.readUnits, 1)} / ${round(f.tick.writeUnits, 1)}`,
    `${f.tick.due} due; fan-out ${round(f.tick.fanOut.readUnits, 1)} RCU; ${f.tick.notChecked} not checked in 3 min; the fan-out's and the checks' units only (other functions meanwhile: ${round(f.tick.otherUnits.readUnits, 1)} / ${round(f.tick.otherUnits.writeUnits, 1)})`,
  );
  row(
    "DynamoDB units per drift tick at 100,000 (by arithmetic)",
    `${at100k.readUnits} / ${at100k.writeUnits}`,
    `${at100k.due} due per tick of 5 min (6 h interval)`,
  );
  row(
    "$ per 1,000 onboardings",
    cost.total,
    `Lambda ${cost.lambda}, API GW ${cost.apiGateway}, DynamoDB ${cost.dynamodb}, SQS ${cost.sqs}, Step Functions ${cost.stepFunctions}`,
  );
  const tickCost =
    at100k.readUnits * PRICES.dynamoDbPerReadUnit +
    at100k.writeUnits * PRICES.dynamoDbPerWriteUnit +
    at100k.due * PRICES.stepFunctionsExpressPerRequest;
  row(
    "$ per day of drift ticks at 100,000 (DynamoDB + Express requests)",
    round(288 * tickCost, 3),
    "288 ticks a day",
  );
  return {
    name: "aws-form",
    title: `On the deployed form: ${n} tenants imported at once within the stack's own limits (measured)`,
    columns: ["figure", "value", "notes"],
    rows,
    targets: [
      {
        name: "aws-form fleet",
        target: "every imported tenant succeeds, none twice",
        measured: `${failed} failed, ${fleet.duplicateIds + fleet.startedTwice.length} twice, ${d.calls["states:StartExecution"] ?? 0} workflow starts of ${n}`,
        // StartExecution also counts the drift schedule's Express checks while the fleet runs.
        met: failed === 0 && fleet.duplicateIds === 0 && fleet.startedTwice.length === 0,
      },
    ],
    notes: notes(f, steps.betweenStepsShare),
    details: {
      cold: f.cold,
      // Without the per-row and per-tenant lists (1,000 of each).
      fleet: {
        ...fleet,
        items: undefined,
        endedAt: undefined,
        importStderr: undefined,
        importSummary: { ...fleet.importSummary, rows: undefined },
      },
      counters: d,
      sim: f.sim,
      tick: f.tick,
    },
  };
}

function coldByFunction(d: Counters): string {
  return Object.entries(d.cold)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k.replace(/[0-9A-F]{8}$/, "")} ${v}`)
    .join(", ");
}

/** The sentence on what limits the run, from the measured phases. */
function notes(f: Figures, betweenSteps: number): string[] {
  const { fleet, d } = f;
  const apiMs = round((d.billedMs[API_FN] ?? 0) / Math.max(1, d.invocations[API_FN] ?? 0), 0);
  const phases = [
    [
      `the import (${apiMs} ms per API function invocation, under the usage plan's 25 req/s)`,
      fleet.importSeconds,
    ],
    [
      `the consents (the callback's stage throttle of ${CONSENT_RATE} req/s allows ${round(fleet.tenants / CONSENT_RATE, 0)} s; the API function at ${apiMs} ms per invocation behind it)`,
      fleet.consentSeconds,
    ],
    [
      "the onboardings after the last consent",
      fleet.totalSeconds - fleet.importSeconds - fleet.consentSeconds,
    ],
  ] as const;
  const [what, seconds] = [...phases].sort((a, b) => b[1] - a[1])[0]!;
  return [
    `Machine load average (1/5/15 min) ${f.load[0]} at the start, ${f.load[1]} at the end, on ${availableParallelism()} cores: other work on the machine stretches every time here.`,
    `What limits it: ${what}, ${round((100 * seconds) / fleet.totalSeconds, 0)}% of the ${round(fleet.totalSeconds, 0)} s. ${total(d.throttles)} Lambda throttles, so no concurrency wait: the API function's time per invocation (CPU of this machine, every Lambda environment a process on ${availableParallelism()} cores) is what the import and the consents wait for. Inside an onboarding, ${betweenSteps}% of its span has no step running (Step Functions, Lambda starts and waits); the steps' own time is Exchange and Graph requests (the simulator answering at ${f.latencyMs ?? 0} ms of added latency) and DynamoDB.`,
    "Consent is completed by the simulator's consent page as an admin's browser does, 8 at a time; a page answered 429 is reloaded after Retry-After (or 1 s), a consent ending on another error is started again from its link (up to 5 times). The partner's list is read every 2 s until every tenant has ended (its API calls are in the counts). Twice: the list's ids, the events of 100 tenants (the form's StartExecution count over the fleet is shown, with the drift schedule's Express checks in it) (the test/aws fleet suite reads every tenant's and imports the file again).",
    `Cost: Lambda requests and GB-s at 512 MB (billed duration per invocation), API Gateway REST requests (the API function's invocations), DynamoDB on-demand units as DynamoDB Local reports ConsumedCapacity, SQS FIFO requests through the local endpoint, Step Functions Standard at ${TRANSITIONS_PER_ONBOARDING} transitions per onboarding (the cost benchmark's count of the same definition; not measured here). Prices ${PRICES.asOf}. Not included: logs, X-Ray, storage, streams, data transfer, the SQS event source's polling.`,
    "Drift tick: fired a full interval after the fleet succeeded (the tick before it first, which catches up its missed ticks); units the form's DynamoDB counted for the calls of the fan-out function and of the task function (the checks) over the tick and the checks it started; the webhook functions' work of the moment (the fleet's events) is shown apart. At 100,000: the measured units per due tenant (the fan-out reads only the tick's entries of the sparse index, then starts one check per due tenant) times the due tenants, 100,000 / 72 per tick.",
  ];
}
