/**
 * Benchmark on the deployed form (`npm run start:aws`), measured instead of modelled: cold
 * starts of the Lambda environments, token requests to Microsoft Entra per onboarding, DynamoDB
 * requests and capacity units (as DynamoDB Local reports ConsumedCapacity, every call asked
 * TOTAL by the form's endpoint), Lambda invocations and billed duration, and what 1,000
 * onboardings cost from those counts at the list prices of bench/cost.ts.
 *
 * Two phases on one fresh form: one onboarding alone (a cold fleet), then BATCH registered back to back (the
 * fleet as the first left it). Per-onboarding figures are deltas of the form's counters over a
 * phase divided by its tenants. Not measured here: Step Functions state transitions (see the
 * `cost` benchmark), API Gateway beyond the partner's POST and the admin's consent callback,
 * logs, X-Ray, storage, streams and data transfer.
 */
import { AwsForm, type FormStats, type Json } from "../test/aws/support/form.ts";
import { PRICES } from "./cost.ts";
import { log, type Result, round } from "./harness.ts";

const BATCH = 10;
const MEMORY_GB = 512 / 1024;
/** Requests API Gateway bills per onboarding here: the POST and the consent callback. */
const API_REQUESTS = 2;

interface Counters {
  cold: number;
  invocations: number;
  billedMs: number;
  dynamoRequests: number;
  readUnits: number;
  writeUnits: number;
}

function counters(s: FormStats & { dynamodb?: Json }): Counters {
  const fns = Object.values(s.lambda) as Json[];
  const sum = (f: (x: Json) => number) => fns.reduce((a, x) => a + f(x), 0);
  const requests = Object.values((s.dynamodb?.requests ?? {}) as Record<string, number>);
  return {
    cold: sum((x) => x.coldStarts),
    invocations: sum((x) => x.invocations),
    billedMs: sum((x) => x.billedMs ?? 0),
    dynamoRequests: requests.reduce((a, b) => a + b, 0),
    readUnits: s.dynamodb?.readUnits ?? 0,
    writeUnits: s.dynamodb?.writeUnits ?? 0,
  };
}

async function phase(form: AwsForm, key: string, tenants: number) {
  const before = counters((await form.stats()) as FormStats & { dynamodb?: Json });
  const started = performance.now();
  // Registered one after another (as a partner's script would), onboarding side by side.
  const ids: string[] = [];
  for (let i = 0; i < tenants; i++) ids.push((await form.onboard(key, { outboundGateway: true })).tenantId);
  // One poll at a time (each poll is an API invocation, as a partner's would be).
  const ended: Json[] = [];
  for (const id of ids) ended.push(await form.waitFor(id, key, ["succeeded", "failed"], 600_000));
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 2_000)); // the stream and queue settle
  const after = counters((await form.stats()) as FormStats & { dynamodb?: Json });
  let tokens = 0;
  for (const id of ids) {
    tokens += (await form.sim.calls(id)).filter(
      (c) => c.service === "identity" && c.operation === "token",
    ).length;
  }
  const per = (k: keyof Counters) => (after[k] - before[k]) / tenants;
  return {
    tenants,
    failed: ended.filter((t) => t.status !== "succeeded").length,
    errors: ended.filter((t) => t.status !== "succeeded").map((t) => `${t.error?.code}: ${t.error?.message}`),
    seconds: round(seconds, 1),
    coldStarts: after.cold - before.cold,
    tokensPerOnboarding: round(tokens / tenants, 2),
    invocations: round(per("invocations"), 1),
    billedMs: round(per("billedMs"), 0),
    dynamoRequests: round(per("dynamoRequests"), 1),
    readUnits: round(per("readUnits"), 1),
    writeUnits: round(per("writeUnits"), 1),
  };
}

export async function run(): Promise<Result> {
  const form = new AwsForm({ LOG_LEVEL: "ERROR" });
  await form.start();
  try {
    log(`form serving after ${form.startedInMs} ms`);
    const partner = await form.createPartner("Bench MSP");
    const cold = await phase(form, partner.apiKey, 1);
    log(`cold: ${JSON.stringify(cold)}`);
    const warm = await phase(form, partner.apiKey, BATCH);
    log(`batch: ${JSON.stringify(warm)}`);
    const lambdaFns = (await form.stats()).lambda;
    const cost = (p: typeof warm) =>
      1000 *
      (p.writeUnits * PRICES.dynamoDbPerWriteUnit +
        p.readUnits * PRICES.dynamoDbPerReadUnit +
        p.invocations * PRICES.lambdaPerRequest +
        (p.billedMs / 1000) * MEMORY_GB * PRICES.lambdaArmPerGbSecond +
        API_REQUESTS * PRICES.apiGatewayRestPerRequest);
    const rows = [cold, warm].map((p, i) => ({
      phase: i === 0 ? "1 alone (cold fleet)" : `${BATCH} side by side (after it)`,
      failed: p.failed,
      seconds: p.seconds,
      "cold starts": p.coldStarts,
      "tokens / onboarding": p.tokensPerOnboarding,
      "Lambda invocations / onboarding": p.invocations,
      "billed Lambda ms / onboarding": p.billedMs,
      "DynamoDB requests / onboarding": p.dynamoRequests,
      "RCU / onboarding": p.readUnits,
      "WCU / onboarding": p.writeUnits,
      "$ / 1,000 (DynamoDB, Lambda, API GW)": round(cost(p), 4),
    }));
    return {
      name: "aws-form",
      title: "On the deployed form: cold starts, tokens, DynamoDB and cost per onboarding (measured)",
      columns: Object.keys(rows[0]!),
      rows,
      targets: [
        {
          name: "aws-form",
          target: "every onboarding succeeds on the AWS form",
          measured: `${cold.failed + warm.failed} failed of ${1 + BATCH}`,
          met: cold.failed + warm.failed === 0,
        },
      ],
      notes: [
        `The form served ${round(form.startedInMs / 1000, 1)} s after its start (cdk.out already synthesized).`,
        "Mode eu with the outbound gateway. Token requests are the simulator's identity token calls for the tenant; DynamoDB units as DynamoDB Local reports ConsumedCapacity (it may not count index writes the way DynamoDB bills them).",
        "Cost: DynamoDB on-demand units, Lambda requests and GB-s at 512 MB (billed duration measured per invocation, init excluded), 2 API Gateway requests; Step Functions transitions are not measured here (the cost benchmark models them), nor logs, X-Ray, storage or streams.",
      ],
      details: { cold, warm, lambda: lambdaFns, errors: [...cold.errors, ...warm.errors] },
    };
  } finally {
    await form.stop();
  }
}
