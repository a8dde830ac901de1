/**
 * Benchmark 4: what one onboarding costs on AWS, from counts taken while it runs locally.
 *
 * - State transitions: states entered (plus retries, which AWS also bills) in the event log
 *   of aws-local-stepfunctions running the very definition of workflows/definition.ts.
 * - Lambda: one invocation per Task state run (the task functions), plus the API function and
 *   the authorizer for the `POST /v1/tenants` (the authorizer's answer is cached by API Gateway,
 *   so that is an upper bound). GB-s = measured duration x 512 MB (the stack's default), with
 *   100 ms per Microsoft 365 call, rounded up to 1 ms per invocation as Lambda bills.
 * - DynamoDB: every request carries `ReturnConsumedCapacity: TOTAL` (a client middleware) and
 *   dynalite answers with DynamoDB's unit rules (writes per 1 KB, reads per 4 KB, half for
 *   eventually consistent reads). dynalite does not count index writes: the indexes project
 *   keys and `status` only, so a tenant item write costs index writes only when it sets
 *   `status` (registration, status changes): 1 unit per index entry (under 1 KB) in each of
 *   the two indexes, 2 when an existing entry is replaced (delete + put).
 * - API Gateway: one REST request (the POST; polling by the partner is not counted).
 *
 * Not included: CloudWatch Logs and X-Ray, Secrets Manager reads at cold start, DynamoDB
 * storage and streams, webhook delivery (SQS and its functions), data transfer, free tiers.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { StateMachine } from "aws-local-stepfunctions";
import { createApi } from "../functions/api/app.ts";
import { generateApiKey, hashApiKey } from "../functions/domain/api-keys.ts";
import type { WorkflowEngine, WorkflowInput, WorkflowKind } from "../functions/domain/engine.ts";
import type { TaskHandler } from "../functions/tasks/task-context.ts";
import { startHttpServer } from "../infra/local/http-server.ts";
import {
  offboardingDefinition,
  onboardingDefinition,
  type TaskName,
  taskStates,
} from "../workflows/definition.ts";
import {
  ALL_MODES,
  consumedUnits,
  log,
  modeName,
  onboardingRequest,
  postTenant,
  type Result,
  round,
  silentLogger,
  startWorkflowStack,
} from "./harness.ts";

/**
 * AWS list prices, us-east-1, as of 2024-11 (DynamoDB on-demand after the November 2024
 * reduction). Update them here; nothing else holds a price.
 */
export const PRICES = {
  asOf: "2024-11, us-east-1",
  stepFunctionsStandardPerTransition: 0.025 / 1_000,
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  dynamoDbPerWriteUnit: 0.625 / 1_000_000,
  dynamoDbPerReadUnit: 0.125 / 1_000_000,
  apiGatewayRestPerRequest: 3.5 / 1_000_000,
  stepFunctionsExpressPerRequest: 1.0 / 1_000_000,
  sqsFifoPerRequest: 0.5 / 1_000_000,
} as const;

const LATENCY_MS = 100;
const LAMBDA_MEMORY_GB = 512 / 1024;
/** Indexes a tenant item is in besides the table (byPartner, all); they project keys and status. */
const TENANT_ITEM_INDEXES = 2;

/** Whether a write to a tenant item changes what its index entries hold (the status). */
function setsStatus(input: Record<string, unknown>): boolean {
  const names = Object.values((input["ExpressionAttributeNames"] ?? {}) as Record<string, string>);
  return input["Item"] !== undefined || names.includes("status");
}

const CAPACITY_COMMANDS = new Set([
  "GetItemCommand",
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "QueryCommand",
  "ScanCommand",
  "BatchGetItemCommand",
  "BatchWriteItemCommand",
]);
const WRITES = new Set(["PutItemCommand", "UpdateItemCommand", "DeleteItemCommand", "BatchWriteItemCommand"]);

interface Meter {
  readUnits: number;
  writeUnits: number;
  indexWriteUnits: number;
  requests: number;
  invocations: Partial<Record<TaskName | "Api" | "Authorizer", number>>;
  lambdaMs: number;
  transitions: number;
  retries: number;
}

const emptyMeter = (): Meter => ({
  readUnits: 0,
  writeUnits: 0,
  indexWriteUnits: 0,
  requests: 0,
  invocations: {},
  lambdaMs: 0,
  transitions: 0,
  retries: 0,
});

/** The input at this middleware step is the document client's (plain values, not AttributeValues). */
function isTenantItem(input: Record<string, unknown>): boolean {
  const key = (input["Key"] ?? input["Item"]) as Record<string, unknown> | undefined;
  return typeof key?.["pk"] === "string" && key["pk"].startsWith("TENANT#") && key["sk"] === "TENANT";
}

const fakeArn = (task: TaskName) => `arn:aws:lambda:us-east-1:000000000000:function:${task}`;

/** The local engine's way of running the definition, keeping each execution's event log. */
class MeteredEngine implements WorkflowEngine {
  readonly #machines: Record<WorkflowKind, { machine: StateMachine; handlers: Record<string, unknown> }>;
  readonly #running = new Set<Promise<void>>();
  readonly #meter: () => Meter;

  async describe(): Promise<undefined> {
    return undefined;
  }

  constructor(handlers: Record<TaskName, TaskHandler>, meter: () => Meter) {
    this.#meter = meter;
    const build = (definition: Record<string, unknown>) => ({
      machine: new StateMachine(definition as never),
      handlers: Object.fromEntries(
        taskStates(definition).map(({ state, resource }) => [
          state,
          handlers[resource.split(":").at(-1) as TaskName],
        ]),
      ),
    });
    this.#machines = {
      onboarding: build(onboardingDefinition(fakeArn)),
      offboarding: build(offboardingDefinition(fakeArn)),
    };
  }

  async start(kind: WorkflowKind, input: WorkflowInput): Promise<void> {
    const { machine, handlers } = this.#machines[kind];
    const meter = this.#meter();
    const execution = machine.run(
      { tenantId: input.tenantId, run: input.run },
      { overrides: { taskResourceLocalHandlers: handlers as never } },
    );
    const done = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === "StateEntered") meter.transitions += 1;
        if (event.type === "StateRetried") meter.retries += 1;
      }
      await execution.result;
    })();
    this.#running.add(done);
    void done.finally(() => this.#running.delete(done));
  }

  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }
}

/** Counts each DynamoDB request and the capacity it consumed into the current meter. */
function capacityMiddleware(meter: () => Meter) {
  return (client: DynamoDBClient) => {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = context.commandName ?? "";
        const input = args.input as Record<string, unknown>;
        if (CAPACITY_COMMANDS.has(command)) input["ReturnConsumedCapacity"] = "TOTAL";
        const output = await next(args);
        const m = meter();
        m.requests += 1;
        const units = consumedUnits(output.output);
        if (WRITES.has(command)) {
          m.writeUnits += units;
          if (isTenantItem(input) && setsStatus(input)) m.indexWriteUnits += TENANT_ITEM_INDEXES * 2;
        } else m.readUnits += units;
        return output;
      },
      { step: "initialize", name: "benchConsumedCapacity" },
    );
  };
}

/** Counts each task invocation and its duration (rounded up to 1 ms) into the current meter. */
const meterTask =
  (meter: () => Meter) =>
  (task: TaskName, handler: TaskHandler): TaskHandler =>
  async (input) => {
    const started = performance.now();
    try {
      return await handler(input);
    } finally {
      const m = meter();
      m.invocations[task] = (m.invocations[task] ?? 0) + 1;
      m.lambdaMs += Math.ceil(performance.now() - started);
    }
  };

export async function run(): Promise<Result> {
  let meter = emptyMeter();
  const stack = await startWorkflowStack({
    simulator: { latencyMs: LATENCY_MS },
    instrumentClient: capacityMiddleware(() => meter),
    wrap: meterTask(() => meter),
  });

  const engine = new MeteredEngine(stack.handlers, () => meter);
  const opsKey = generateApiKey();
  const api = createApi({
    store: stack.store,
    engine,
    opsKeyHash: hashApiKey(opsKey),
    logger: silentLogger(),
  });
  const http = await startHttpServer({ handler: api });
  const rows: Result["rows"] = [];
  const details: Record<string, unknown> = {};
  try {
    const partner = await fetch(`${http.url}/v1/partners`, {
      method: "POST",
      headers: { authorization: `Bearer ${opsKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Cost" }),
    });
    const { apiKey } = (await partner.json()) as { apiKey: string };

    for (const mode of ALL_MODES) {
      meter = emptyMeter();
      const request = onboardingRequest(mode);
      const started = performance.now();
      const answer = await postTenant(http.url, apiKey, request);
      // The POST runs the API function (and, uncached, the authorizer) once each.
      meter.invocations.Api = 1;
      meter.invocations.Authorizer = 1;
      meter.lambdaMs += 2 * Math.ceil(performance.now() - started);
      if (answer.status !== 202) throw new Error(`POST answered ${answer.status}: ${answer.body}`);
      await engine.idle();
      const tenant = (await stack.store.getTenant(request.tenantId))!.tenant;
      if (tenant.status !== "succeeded") throw new Error(`${modeName(mode)} did not succeed`);

      const { row, perOnboarding } = costRow(modeName(mode), meter);
      rows.push(row);
      details[modeName(mode)] = { ...meter, perOnboardingUsd: perOnboarding };
    }
  } finally {
    await http.close();
    await engine.idle();
    await stack.close();
  }
  const totals = rows.map((r) => Number(r["total"]));
  return {
    name: "cost",
    title: "Cost model: AWS resources and list price per onboarding",
    columns: Object.keys(rows[0] ?? {}),
    rows,
    targets: [],
    notes: [
      `Dollars per 1,000 onboardings at AWS list prices (${PRICES.asOf}): Step Functions Standard $0.025 per 1,000 transitions; Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests; DynamoDB on-demand $0.625 per million WRU and $0.125 per million RRU; API Gateway REST $3.50 per million. Prices live in bench/cost.ts (PRICES). Range: $${Math.min(...totals)} to $${Math.max(...totals)} per 1,000.`,
      `Transitions: states entered in the local engine's event log (plus retries; none happened). Lambda: task invocations + API + authorizer (uncached: an upper bound), 512 MB, durations measured at ${LATENCY_MS} ms per Microsoft 365 call. DynamoDB: ConsumedCapacity reported by dynalite per request, plus 2x the units of each tenant-item write for its two global secondary indexes (estimate). Not included: logs, X-Ray, Secrets Manager, storage, streams, webhooks, free tiers.`,
    ],
    details: { prices: PRICES, modes: details },
  };
}

/** A mode's row of the table, and its dollars per onboarding by service (the run log's line too). */
function costRow(mode: string, meter: Meter) {
  const invocations = Object.values(meter.invocations).reduce((s, n) => s + (n ?? 0), 0);
  const gbSeconds = (meter.lambdaMs / 1000) * LAMBDA_MEMORY_GB;
  const wru = meter.writeUnits + meter.indexWriteUnits;
  const perOnboarding = {
    stepFunctions: (meter.transitions + meter.retries) * PRICES.stepFunctionsStandardPerTransition,
    lambda: invocations * PRICES.lambdaPerRequest + gbSeconds * PRICES.lambdaArmPerGbSecond,
    dynamoDb: wru * PRICES.dynamoDbPerWriteUnit + meter.readUnits * PRICES.dynamoDbPerReadUnit,
    apiGateway: PRICES.apiGatewayRestPerRequest,
  };
  const total = Object.values(perOnboarding).reduce((s, v) => s + v, 0);
  const per1000 = (v: number) => round(v * 1000, 4);
  const row = {
    mode,
    "state transitions": meter.transitions + meter.retries,
    "Lambda invocations": invocations,
    "Lambda GB-s": round(gbSeconds, 2),
    "DynamoDB requests": meter.requests,
    "DynamoDB RRU": round(meter.readUnits, 1),
    "DynamoDB WRU (table+indexes)": `${round(meter.writeUnits)}+${round(meter.indexWriteUnits)}`,
    "$ per 1,000: Step Functions": per1000(perOnboarding.stepFunctions),
    Lambda: per1000(perOnboarding.lambda),
    DynamoDB: per1000(perOnboarding.dynamoDb),
    "API Gateway": per1000(perOnboarding.apiGateway),
    total: per1000(total),
  };
  log(
    `cost ${mode}: ${meter.transitions} transitions, ${invocations} invocations, ${round(gbSeconds, 2)} GB-s, ${meter.requests} DynamoDB requests (${round(meter.readUnits, 1)} RRU, ${round(wru)} WRU): $${per1000(total)} per 1,000`,
  );
  return { row, perOnboarding };
}
