/**
 * Benchmark 5: latency of the partner API under concurrent load (autocannon, 10 connections,
 * 5 s per route after a 1 s warm-up): `GET /v1/tenants/{id}` and `POST /v1/tenants` (a new
 * tenantId per request) beside `GET /health` on the same server, as ratios to it.
 *
 * The server is the API as the local runtime composes it (createApi: authentication against
 * the store, request validation, idempotency layer on the table, problem responses) behind the
 * local HTTP front door, on dynalite on disk, in a worker thread so that autocannon does not
 * share its event loop. Starting a workflow is recorded instead of run: on AWS the API only
 * calls StartExecution, and local workflows would take the CPU the API is measured on.
 * Health needs no key and no DynamoDB; GET reads the API key and the tenant; POST reads the
 * key and writes the registration.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DEFAULT_TABLE_NAME } from "../functions/adapters/dynamodb/schema.ts";
import { ensureTable } from "../functions/adapters/dynamodb/table.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { createApi } from "../functions/api/app.ts";
import { TableIdempotencyLayer } from "../functions/api/idempotency.ts";
import { generateApiKey, hashApiKey } from "../functions/domain/api-keys.ts";
import type { WorkflowEngine } from "../functions/domain/engine.ts";
import { startDynalite } from "../infra/local/dynamodb.ts";
import { startHttpServer } from "../infra/local/http-server.ts";
import { log, type Result, round, silentLogger } from "./harness.ts";

const CONNECTIONS = 10;
const DURATION_S = 5;
const WARMUP_S = 1;

interface AutocannonResult {
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { average: number; total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
}
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
  requests?: AutocannonRequest[];
}) => Promise<AutocannonResult>;

// autocannon is CommonJS without types.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

/** An onboarding request with a fresh tenantId (the API checks the format only). */
function tenantBody(tenantId = randomUUID()): string {
  return JSON.stringify({
    tenantId,
    customerName: `api-${tenantId.slice(0, 8)}`,
    region: "us",
    outboundGateway: false,
    ndrAddress: `admin@${tenantId.slice(0, 8)}.example`,
  });
}

/** The worker: the API server on its own thread; posts `{ url, opsKey }` when listening. */
async function serve(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-api-"));
  const dynalite = await startDynalite({ path: join(dataDir, "dynamodb") });
  const client = createDynamoClient({ endpoint: dynalite.endpoint, region: "us-east-1" });
  await ensureTable(client, DEFAULT_TABLE_NAME);
  const store = new DynamoTenantStore({
    client: createDocumentClient({ client }),
    tableName: DEFAULT_TABLE_NAME,
  });
  let starts = 0;
  const engine: WorkflowEngine = {
    start: async () => {
      starts++;
    },
    describe: async () => undefined,
  };
  const opsKey = generateApiKey();
  const api = createApi({
    store,
    engine,
    opsKeyHash: hashApiKey(opsKey),
    idempotency: new TableIdempotencyLayer({ client, tableName: DEFAULT_TABLE_NAME }),
    logger: silentLogger(),
  });
  const http = await startHttpServer({ handler: api });
  parentPort!.postMessage({ url: http.url, opsKey });
  parentPort!.once("message", async () => {
    await http.close();
    await dynalite.close();
    await rm(dataDir, { recursive: true, force: true });
    parentPort!.postMessage({ closed: true, starts });
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === "api-server") await serve();

/** autocannon's percentiles are whole milliseconds: below 1 ms counts as 1 ms on both sides. */
const ratio = (value: number, health: number) => round(Math.max(value, 1) / Math.max(health, 1), 1);

async function load(
  url: string,
  request: AutocannonRequest,
  headers: Record<string, string>,
): Promise<AutocannonResult> {
  await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_S, headers, requests: [request] });
  return autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers, requests: [request] });
}

export async function run(): Promise<Result> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: "api-server" } });
  const { url, opsKey } = await new Promise<{ url: string; opsKey: string }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  const rows: Result["rows"] = [];
  const details: Record<string, unknown> = {};
  try {
    const partner = await fetch(`${url}/v1/partners`, {
      method: "POST",
      headers: { authorization: `Bearer ${opsKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Latency" }),
    });
    const { apiKey } = (await partner.json()) as { apiKey: string };
    const auth = { authorization: `Bearer ${apiKey}` };
    const tenantId = randomUUID();
    const created = await fetch(`${url}/v1/tenants`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: tenantBody(tenantId),
    });
    if (created.status !== 202) throw new Error(`POST /v1/tenants answered ${created.status}`);

    const routes: [string, AutocannonRequest, Record<string, string>, number][] = [
      ["GET /health", { method: "GET", path: "/health" }, {}, 200],
      ["GET /v1/tenants/{id}", { method: "GET", path: `/v1/tenants/${tenantId}` }, auth, 200],
      [
        "POST /v1/tenants",
        {
          method: "POST",
          path: "/v1/tenants",
          setupRequest: (request) => ({ ...request, body: tenantBody() }),
        },
        { ...auth, "content-type": "application/json" },
        202,
      ],
    ];
    let health: AutocannonResult | undefined;
    for (const [name, request, headers, expected] of routes) {
      const result = await load(url, request, headers);
      health ??= result;
      const unexpected = Object.entries(result.statusCodeStats ?? {})
        .filter(([code]) => Number(code) !== expected)
        .reduce((s, [, v]) => s + v.count, 0);
      rows.push({
        route: name,
        "req/s": round(result.requests.average),
        "p50 ms": result.latency.p50,
        "p99 ms": result.latency.p99,
        "p50 / health": ratio(result.latency.p50, health.latency.p50),
        "p99 / health": ratio(result.latency.p99, health.latency.p99),
        "other status or errors": unexpected + result.errors + result.timeouts,
      });
      details[name] = {
        latency: result.latency,
        requests: result.requests,
        statusCodeStats: result.statusCodeStats,
      };
      log(
        `api-latency ${name}: ${round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${unexpected} unexpected statuses, ${result.errors} errors`,
      );
    }
  } finally {
    await new Promise<void>((resolve) => {
      worker.once("message", () => resolve());
      worker.postMessage("close");
    });
    await worker.terminate();
  }
  return {
    name: "api-latency",
    title: `API latency under load (autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per route)`,
    columns: Object.keys(rows[0] ?? {}),
    rows,
    targets: [],
    notes: [
      "The API as the local runtime composes it, on dynalite on disk, served from a worker thread (autocannon on the main thread). Workflow starts are recorded, not run. Ratios: to GET /health on the same server and connections (health: no key, no DynamoDB); autocannon reports whole milliseconds, so a figure below 1 ms counts as 1 ms and the ratios are lower bounds when health answers in under 1 ms.",
    ],
    details,
  };
}
