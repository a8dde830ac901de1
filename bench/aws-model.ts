/**
 * Benchmark: the AWS model of the task functions. Lambda execution environments are simulated
 * in this process, each with its OWN Microsoft 365 gateway (its own token cache, as a Lambda
 * container has), and the real workflow runs on them: the local engine, dynalite, the HTTPS
 * simulator. Two layouts of the same definition:
 *
 * - one function per task (the layout before the single task function): a Task state can only
 *   meet an environment of its own task's function;
 * - one task function (the stack's layout, infra/aws/onboarding-workflow.ts): every Task state
 *   meets any idle environment of the one function.
 *
 * An invocation takes an idle environment of its function, or starts a new one (a cold start)
 * when all are busy, as Lambda does; which idle environment it gets is not documented, so two
 * routings are modelled: the most recently used one (warm-first) and a random one. Token
 * requests are counted from the simulator's call log (per tenant), cold starts from the
 * environments created.
 *
 * The task function's store leaves its outbox to the stack's stream forwarder
 * (`flushAfterWrite: false`, functions/tasks/lambda.ts); the model's "deployed" layout does the same,
 * with the forwarder's flush run after each invocation outside it. DynamoDB requests made
 * inside task invocations are counted per onboarding.
 *
 * Scenarios per mode and layout: one onboarding on an idle fleet (no environment yet: every
 * function starts cold), then onboardings one after another on the warm fleet, then
 * CONCURRENT onboardings at once.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { createDocumentClient } from "../functions/adapters/dynamodb/client.ts";
import { DEFAULT_TABLE_NAME } from "../functions/adapters/dynamodb/schema.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import type { TaskHandler, TaskInput } from "../functions/tasks/task-context.ts";
import { createTaskHandlers } from "../functions/tasks/task-handlers.ts";
import { TASK_FUNCTION, type TaskName } from "../workflows/definition.ts";
import {
  ALL_MODES,
  log,
  type Mode,
  median,
  modeName,
  onboardingRequest,
  type Result,
  round,
  startWorkflowStack,
  type WorkflowStack,
} from "./harness.ts";

const LATENCY_MS = 100;
const SEQUENTIAL = 2;
const CONCURRENT = 10;

type Routing = "warm-first" | "random";

interface Layout {
  name: string;
  functionOf: (task: TaskName) => string;
  /** The task store writes out its own outbox (separate functions), or leaves it to the stream forwarder (deployed). */
  flushAfterWrite: boolean;
}

const LAYOUTS: Layout[] = [
  { name: "one function per task", functionOf: (task) => task, flushAfterWrite: true },
  { name: "one task function (deployed)", functionOf: () => TASK_FUNCTION.name, flushAfterWrite: false },
];

interface Environment {
  fn: string;
  busy: boolean;
  lastUsed: number;
  handlers: Record<TaskName, TaskHandler>;
}

/** Lambda's execution environments of the task functions, by function. */
class Fleet {
  environments: Environment[] = [];
  coldStarts = 0;
  #clock = 0;
  layout: Layout;
  #routing: Routing;
  readonly #create: (layout: Layout) => Record<TaskName, TaskHandler>;
  readonly #forward: (tenantId: string) => Promise<void>;

  constructor(
    layout: Layout,
    routing: Routing,
    create: (layout: Layout) => Record<TaskName, TaskHandler>,
    forward: (tenantId: string) => Promise<void>,
  ) {
    this.layout = layout;
    this.#routing = routing;
    this.#create = create;
    this.#forward = forward;
  }

  reset(layout: Layout, routing: Routing): void {
    this.environments = [];
    this.coldStarts = 0;
    this.layout = layout;
    this.#routing = routing;
  }

  set routing(routing: Routing) {
    this.#routing = routing;
  }

  async invoke(task: TaskName, input: TaskInput): Promise<unknown> {
    const fn = this.layout.functionOf(task);
    const idle = this.environments.filter((e) => e.fn === fn && !e.busy);
    let env: Environment | undefined;
    if (this.#routing === "warm-first") env = idle.sort((a, b) => b.lastUsed - a.lastUsed)[0];
    else env = idle[Math.floor(Math.random() * idle.length)];
    if (!env) {
      env = { fn, busy: false, lastUsed: 0, handlers: this.#create(this.layout) };
      this.environments.push(env);
      this.coldStarts += 1;
    }
    env.busy = true;
    try {
      return await env.handlers[task](input);
    } finally {
      env.busy = false;
      env.lastUsed = ++this.#clock;
      // The stream forwarder, on its own: writes out what the invocation left in the outbox.
      if (!this.layout.flushAfterWrite) void this.#forward(input.tenantId).catch(() => undefined);
    }
  }
}

interface Counts {
  tokens: number;
  resources: number;
  coldStarts: number;
  wallMs: number;
  /** DynamoDB requests made inside the onboarding's task invocations. */
  dynamo: number;
}

/** The onboarding whose task invocation is running (DynamoDB requests are counted for it). */
const invocation = new AsyncLocalStorage<string>();
const dynamoRequests = new Map<string, number>();

/** Token requests of a tenant, and how many distinct resources they were for. */
function tokensOf(stack: WorkflowStack, tenantId: string): { tokens: number; resources: number } {
  const tokens = stack.sim.calls(tenantId).filter((c) => c.service === "identity" && c.operation === "token");
  return { tokens: tokens.length, resources: new Set(tokens.map((c) => c.resource)).size };
}

async function onboardAll(stack: WorkflowStack, fleet: Fleet, mode: Mode, n: number): Promise<Counts[]> {
  const before = fleet.coldStarts;
  const results = await Promise.all(
    Array.from({ length: n }, async () => {
      const { tenant, wallMs } = await stack.onboard(onboardingRequest(mode, randomUUID()));
      if (tenant.status !== "succeeded") throw new Error(`${modeName(mode)} did not succeed`);
      return {
        ...tokensOf(stack, tenant.tenantId),
        wallMs,
        dynamo: dynamoRequests.get(tenant.tenantId) ?? 0,
      };
    }),
  );
  const coldStarts = (fleet.coldStarts - before) / n;
  return results.map((r) => ({ ...r, coldStarts }));
}

export async function run(): Promise<Result> {
  let fleet: Fleet | undefined;
  const stack = await startWorkflowStack({
    simulator: { latencyMs: LATENCY_MS },
    wrap: (task) => (input) => invocation.run(input.tenantId, () => fleet!.invoke(task, input)),
    instrumentClient: (client) => {
      client.middlewareStack.add(
        (next) => async (args) => {
          const tenantId = invocation.getStore();
          if (tenantId) dynamoRequests.set(tenantId, (dynamoRequests.get(tenantId) ?? 0) + 1);
          return next(args);
        },
        { step: "initialize", name: "benchCount" },
      );
    },
  });
  const streamStore = new DynamoTenantStore({
    client: createDocumentClient({ client: stack.client }),
    tableName: DEFAULT_TABLE_NAME,
    flushAfterWrite: false,
  });
  const forward = (tenantId: string) => invocation.exit(() => stack.store.flushOutbox(tenantId));
  const newEnvironment = (layout: Layout) =>
    createTaskHandlers({
      store: layout.flushAfterWrite ? stack.store : streamStore,
      m365: createM365Gateway({
        clientId: stack.sim.clientId,
        clientSecret: stack.sim.clientSecret,
        endpoints: stack.sim.endpoints,
      }),
    });
  fleet = new Fleet(LAYOUTS[0]!, "warm-first", newEnvironment, forward);

  const rows: Result["rows"] = [];
  const details: Record<string, unknown> = {};
  try {
    for (const mode of ALL_MODES) {
      for (const layout of LAYOUTS) {
        fleet.reset(layout, "warm-first");
        const [idle] = await onboardAll(stack, fleet, mode, 1);
        const warm: Counts[] = [];
        for (let i = 0; i < SEQUENTIAL; i++) warm.push(...(await onboardAll(stack, fleet, mode, 1)));
        fleet.routing = "random";
        const random: Counts[] = [];
        for (let i = 0; i < SEQUENTIAL; i++) random.push(...(await onboardAll(stack, fleet, mode, 1)));
        fleet.reset(layout, "warm-first");
        await onboardAll(stack, fleet, mode, 1);
        const concurrent = await onboardAll(stack, fleet, mode, CONCURRENT);
        const mean = (xs: Counts[], pick: (c: Counts) => number) =>
          round(xs.reduce((s, c) => s + pick(c), 0) / xs.length, 1);
        const resources = idle!.resources;
        rows.push({
          mode: modeName(mode),
          layout: layout.name,
          "cold starts, idle fleet": idle!.coldStarts,
          "tokens, idle fleet": idle!.tokens,
          "tokens, warm (warm-first)": mean(warm, (c) => c.tokens),
          "tokens, warm (random)": mean(random, (c) => c.tokens),
          [`tokens, ${CONCURRENT} at once`]: mean(concurrent, (c) => c.tokens),
          [`cold starts per onboarding, ${CONCURRENT} at once`]: round(concurrent[0]!.coldStarts, 1),
          "per tenant+resource (warm-first)": round(mean(warm, (c) => c.tokens) / resources, 2),
          "DynamoDB requests in tasks": mean(warm, (c) => c.dynamo),
          "wall ms, warm (warm-first)": round(median(warm.map((c) => c.wallMs))),
        });
        details[`${modeName(mode)} ${layout.name}`] = { idle, warm, random, concurrent };
        log(
          `aws-model ${modeName(mode)} ${layout.name}: idle fleet ${idle!.coldStarts} cold starts, ${idle!.tokens} tokens; warm ${mean(warm, (c) => c.tokens)} tokens (random ${mean(random, (c) => c.tokens)}); ${CONCURRENT} at once ${mean(concurrent, (c) => c.tokens)} tokens`,
        );
      }
    }
  } finally {
    await stack.close();
  }
  const now = rows.filter((r) => r["layout"] === LAYOUTS[1]!.name);
  const worst = Math.max(...now.map((r) => Number(r["per tenant+resource (warm-first)"])));
  return {
    name: "aws-model",
    title: `AWS model: cold starts and token requests per onboarding (${LATENCY_MS} ms per Microsoft 365 call)`,
    columns: Object.keys(rows[0] ?? {}),
    rows,
    targets: [
      {
        name: "tokens on AWS",
        target: "1 token request per tenant and resource per onboarding (warm fleet)",
        measured: `worst ${worst} per tenant+resource with one task function (${now.map((r) => `${r["mode"]} ${r["tokens, warm (warm-first)"]}`).join(", ")} tokens for graph+exchange)`,
        met: worst <= 1,
      },
    ],
    notes: [
      "Each simulated Lambda environment has its own Microsoft 365 gateway and token cache; an invocation takes an idle environment of its function (warm-first: the most recently used; random: any) or cold-starts a new one when all are busy. Tokens: token requests of the onboarding's tenant in the simulator's log (an onboarding needs two resources: Graph for GET /organization, Exchange for the cmdlets).",
      `Idle fleet: the first onboarding with no environment running (every function it meets starts cold). Warm: ${SEQUENTIAL} onboardings one after another afterwards (mean). ${CONCURRENT} at once: after one warm-up onboarding (mean tokens; cold starts = environments started / onboardings).`,
      "DynamoDB requests in tasks: requests made inside the onboarding's task invocations (warm, mean); the one task function leaves its outbox to the stream forwarder (flushAfterWrite: false), which writes the events out beside the workflow instead of on its path (and no longer a second time).",
      "The onboarding's tasks run one after another (CheckAccess, Configure, Journal; no Parallel state: Configure runs the connector, NDR address and groups side by side inside one invocation), so with one task function a warm fleet serves an onboarding from one environment and its token cache. Tokens are never shared between environments (they are secrets: not in the table, not in the execution's state, whose history is logged). \"One function per task\" is the layout of separate functions for comparison; it writes out its own outbox, as the task functions did before the stream forwarder.",
    ],
    details,
  };
}
