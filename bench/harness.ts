/**
 * Shared parts of the benchmarks: the result shape, the onboarding modes, the wiring of the
 * real pieces (dynalite on disk, the store, the HTTPS Microsoft 365 simulator, the gateway,
 * the task handlers, the local engine; or the whole local runtime behind its HTTP API), and
 * small statistics. Benchmarks print progress to stderr; stdout belongs to run.ts.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DEFAULT_TABLE_NAME } from "../functions/adapters/dynamodb/schema.ts";
import { ensureTable } from "../functions/adapters/dynamodb/table.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { LocalWorkflowEngine } from "../functions/adapters/workflow/local-engine.ts";
import type { RegionMode } from "../functions/domain/provider.ts";
import type { OnboardingRequest, Tenant } from "../functions/domain/tenant.ts";
import { createTaskRouter } from "../functions/tasks/router.ts";
import type { TaskHandler } from "../functions/tasks/task-context.ts";
import { createTaskHandlers } from "../functions/tasks/task-handlers.ts";
import { startDynalite } from "../infra/local/dynamodb.ts";
import type { Simulator, SimulatorConfig } from "../infra/local/m365-simulator/index.ts";
import { demoOnboardingRequest, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { type LocalRuntime, startLocalRuntime } from "../infra/local/runtime.ts";
import type { TaskName } from "../workflows/definition.ts";

/** One figure of a benchmark row. */
export type Cell = string | number | boolean | null;

/** A target of the issue, and whether this run met it. */
export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

/** What every benchmark module's `run()` returns. */
export interface Result {
  name: string;
  title: string;
  /** Column order of `rows` (keys of each row). */
  columns: string[];
  rows: Record<string, Cell>[];
  targets: Target[];
  /** Findings and how the figures were derived, in sentences. */
  notes: string[];
  /** Seconds the benchmark took. */
  seconds?: number;
  /** Anything else worth keeping in results.json (breakdowns, raw samples). */
  details?: unknown;
}

export interface Mode {
  region: RegionMode;
  outboundGateway: boolean;
}

export const modeName = (m: Mode) => `${m.region}${m.outboundGateway ? "+gw" : ""}`;

/** Every region mode, with and without the outbound gateway. */
export const ALL_MODES: Mode[] = (["us", "eu", "split"] as const).flatMap((region) =>
  [false, true].map((outboundGateway) => ({ region, outboundGateway })),
);

/**
 * Simulator settings shared by the benchmarks: Exchange's real page size (the client asks for
 * `odata.maxpagesize=1000`; the simulator's default of 2 exists to exercise paging in tests),
 * no faults, connectors validate at once.
 */
export const SIMULATOR_DEFAULTS: SimulatorConfig = {
  pageSize: 1000,
  faults: { throttleRate: 0, serverErrorRate: 0, dropRate: 0 },
  validation: { lag: 0, fail: false },
};

/** Progress and figures go to stderr (stdout is the Markdown table of run.ts). */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A logger that prints nothing (the runtime's and the API's lines are not figures). */
export function silentLogger(): Logger {
  return new Logger({ serviceName: "bench", logLevel: "SILENT" });
}

/** The body of `POST /v1/tenants` for a simulated tenant, valid against its demo mailboxes. */
export function onboardingRequest(mode: Mode, tenantId = randomUUID()): OnboardingRequest {
  return demoOnboardingRequest(tenantId, {
    customerName: `bench-${tenantId.slice(0, 8)}`,
    region: mode.region,
    outboundGateway: mode.outboundGateway,
  });
}

/** Wraps a task handler (instrumentation); `name` is the task function. */
export type HandlerWrapper = (name: TaskName, handler: TaskHandler) => TaskHandler;

export interface WorkflowStack {
  dataDir: string;
  client: DynamoDBClient;
  store: DynamoTenantStore;
  sim: Simulator;
  engine: LocalWorkflowEngine;
  handlers: Record<TaskName, TaskHandler>;
  /** Registers a tenant and runs its onboarding to the end. */
  onboard(request: OnboardingRequest): Promise<{ tenant: Tenant; wallMs: number }>;
  /** Runs the whole workflow again on a finished tenant, every succeeded step back to pending. */
  rerun(tenantId: string): Promise<{ tenant: Tenant; wallMs: number }>;
  close(): Promise<void>;
}

/**
 * The workflow without the API, wired as the local runtime wires it: dynalite with its files
 * in a temporary folder, the DynamoDB store, the HTTPS simulator, the real gateway, the task
 * handlers and the local engine running the definition AWS runs. `wrap` instruments handlers;
 * `instrumentClient` may add middleware to the DynamoDB client before anything uses it.
 */
export async function startWorkflowStack(
  options: {
    simulator?: SimulatorConfig;
    wrap?: HandlerWrapper;
    instrumentClient?: (client: DynamoDBClient) => void;
    /** @default 0.001 (retries, if any, take milliseconds) */
    retryScale?: number;
    /** Another DynamoDB (e.g. DynamoDB Local) instead of dynalite. */
    dynamodbEndpoint?: string;
  } = {},
): Promise<WorkflowStack> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-"));
  const dynalite = options.dynamodbEndpoint
    ? undefined
    : await startDynalite({ path: join(dataDir, "dynamodb") });
  const endpoint = options.dynamodbEndpoint ?? dynalite!.endpoint;
  const client = createDynamoClient({ endpoint, region: "us-east-1" });
  options.instrumentClient?.(client);
  await ensureTable(client, DEFAULT_TABLE_NAME);
  const store = new DynamoTenantStore({
    client: createDocumentClient({ client }),
    tableName: DEFAULT_TABLE_NAME,
  });
  const sim = await startSimulator({ ...SIMULATOR_DEFAULTS, ...options.simulator });
  const m365 = createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
  });
  const base = createTaskHandlers({ store, m365 });
  const handlers = Object.fromEntries(
    Object.entries(base).map(([name, handler]) => [
      name,
      options.wrap ? options.wrap(name as TaskName, handler) : handler,
    ]),
  ) as Record<TaskName, TaskHandler>;
  const engine = new LocalWorkflowEngine({
    route: createTaskRouter(handlers),
    retryScale: options.retryScale ?? 0.001,
  });

  const runToEnd = async (tenantId: string, run: number) => {
    const started = performance.now();
    await engine.start("onboarding", { tenantId, run });
    await engine.idle();
    const wallMs = performance.now() - started;
    const tenant = (await store.getTenant(tenantId))!.tenant;
    return { tenant, wallMs };
  };

  return {
    dataDir,
    client,
    store,
    sim,
    engine,
    handlers,
    onboard: async (request) => {
      const { internals } = await store.registerTenant("p_bench", request, new Date().toISOString());
      return runToEnd(request.tenantId, internals.run);
    },
    rerun: async (tenantId) => {
      const current = (await store.getTenant(tenantId))!.tenant;
      const steps = Object.fromEntries(
        current.steps
          .filter((s) => s.status === "succeeded")
          .map((s) => [s.name, { status: "pending" as const }]),
      );
      const { stored } = await store.transition(
        tenantId,
        { status: "queued", newRun: true, steps },
        new Date().toISOString(),
      );
      return runToEnd(tenantId, stored.internals.run);
    },
    close: async () => {
      await engine.close();
      await sim.close();
      await dynalite?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiRuntime {
  runtime: LocalRuntime;
  sim: Simulator;
  /** A partner's API key (created through `POST /v1/partners`). */
  partnerKey: string;
  partnerId: string;
  close(): Promise<void>;
}

/**
 * The whole local runtime (`npm start`) with its state in a temporary folder, the built-in
 * simulator, and one partner created through the API.
 */
export async function startApiRuntime(
  options: { simulator?: SimulatorConfig; dynamodbEndpoint?: string } = {},
): Promise<ApiRuntime> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-runtime-"));
  const runtime = await startLocalRuntime({
    port: 0,
    dataDir,
    env: {
      // The benchmarks measure the service, not the per-partner request limit.
      PARTNER_RATE_LIMIT_RPS: "1000000",
      PARTNER_RATE_LIMIT_BURST: "1000000",
      ...(options.dynamodbEndpoint ? { DYNAMODB_ENDPOINT: options.dynamodbEndpoint } : {}),
    },
    retryScale: 0.001,
    simulator: { ...SIMULATOR_DEFAULTS, ...options.simulator },
    logger: silentLogger(),
  });
  const res = await fetch(`${runtime.url}/v1/partners`, {
    method: "POST",
    headers: { authorization: `Bearer ${runtime.opsApiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Bench Partner" }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/partners answered ${res.status}: ${await res.text()}`);
  const { apiKey, partnerId } = (await res.json()) as { apiKey: string; partnerId: string };
  return {
    runtime,
    sim: runtime.simulator!,
    partnerKey: apiKey,
    partnerId,
    close: async () => {
      await runtime.close({ graceMs: 1_000 });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `POST /v1/tenants` as a partner; returns the status code and body. */
export async function postTenant(
  url: string,
  partnerKey: string,
  request: OnboardingRequest,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/v1/tenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${partnerKey}`, "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  return { status: res.status, body: await res.text() };
}

/**
 * `POST /v1/tenants` as the runtime's partner, then, for a tenant waiting for its customer's
 * consent, the binding that consent would make (ops' `bindTenant`, one more request), so that
 * the onboarding runs. Returns the POST's status code and body.
 */
export async function onboardTenant(
  api: ApiRuntime,
  request: OnboardingRequest,
): Promise<{ status: number; body: string }> {
  const answer = await postTenant(api.runtime.url, api.partnerKey, request);
  if (
    answer.status === 202 &&
    (JSON.parse(answer.body) as { status?: string }).status === "awaiting_consent"
  ) {
    const res = await fetch(`${api.runtime.url}/v1/tenants/${request.tenantId}/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.runtime.opsApiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ bindTenant: true, partnerId: api.partnerId }),
    });
    if (res.status !== 202) return { status: res.status, body: await res.text() };
  }
  return answer;
}

/** Epoch milliseconds with sub-millisecond precision (the simulator's `at` clock). */
export const epochNow = () => performance.timeOrigin + performance.now();

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** The capacity units a DynamoDB answer reports (ReturnConsumedCapacity TOTAL), summed over tables. */
export function consumedUnits(output: unknown): number {
  const consumed = (output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
  return [consumed]
    .flat()
    .reduce((s: number, c) => s + ((c as { CapacityUnits?: number } | undefined)?.CapacityUnits ?? 0), 0);
}

export const round = (value: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1, 5, 15 minute load averages when the run started: other work on the machine. */
  loadAverage: number[];
  /** The same when the run ended. */
  loadAverageAtEnd?: number[];
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) cpuModel = line.split(":")[1]!.trim();
  } catch {
    // not Linux
  }
  return {
    nproc: availableParallelism(),
    cpuModel,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
}
