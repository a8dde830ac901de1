/**
 * Benchmark 3: N onboardings at once through the real HTTP API (`POST /v1/tenants` from a
 * partner) and the local engine, 50 ms per Microsoft 365 call: wall time from the first POST
 * until every execution ended, throughput, memory, and the cost relative to one onboarding.
 *
 * Each N gets a fresh local runtime (dynalite on disk, simulator, API; empty state) and one
 * warm-up onboarding before the clock starts. Peak RSS is sampled every 20 ms during the
 * level. The service runs on the main thread of this process: the API, the engine, the task
 * handlers with their DynamoDB and Microsoft 365 clients; dynalite (the local DynamoDB) and the
 * Microsoft 365 simulator run on worker threads of their own, as `npm start` runs them
 * (startLocalRuntime). Service CPU is the main thread's (`process.threadCpuUsage`), process
 * CPU adds the two workers'; the event loop utilisation and a CPU profile (main thread) of the
 * largest N show where it goes.
 */

import { randomUUID } from "node:crypto";
import { Session } from "node:inspector/promises";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import {
  log,
  type Mode,
  modeName,
  onboardingRequest,
  onboardTenant,
  percentile,
  type Result,
  round,
  startApiRuntime,
} from "./harness.ts";

const LATENCY_MS = 50;
/** `BENCH_SCALE_LEVELS=1,100` runs fewer levels (development). */
const LEVELS = (process.env["BENCH_SCALE_LEVELS"] ?? "1,10,100,500").split(",").map(Number);
const MODE: Mode = { region: "us", outboundGateway: true };
const TARGET_FACTOR = 25;
/** Service CPU per onboarding the issue asks for (main thread, largest N). */
const TARGET_CPU_MS = 40;

interface Level {
  n: number;
  wallMs: number;
  failed: number;
  /** Why (the first 20). */
  failures: string[];
  postP50Ms: number;
  postP99Ms: number;
  peakRssMiB: number;
  /** CPU of the main thread (the service; dynalite and the simulator run on worker threads). */
  cpuSeconds: number;
  /** CPU of the whole process (dynalite's and the simulator's threads too). */
  processCpuSeconds: number;
  eventLoopUtilization: number;
  eventLoopDelayP99Ms: number;
  profile?: { packages: Record<string, number>; components: Record<string, number> };
}

async function runLevel(n: number, profile: boolean): Promise<Level> {
  const api = await startApiRuntime({ simulator: { latencyMs: 0 } });
  try {
    const warm = await onboardTenant(api, onboardingRequest(MODE));
    if (warm.status !== 202) throw new Error(`warm-up POST answered ${warm.status}: ${warm.body}`);
    await api.runtime.engine.idle();
    api.sim.configure({ latencyMs: LATENCY_MS });
    const requests = Array.from({ length: n }, () => onboardingRequest(MODE, randomUUID()));

    const session = profile ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    }
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 20);
    const elu = performance.eventLoopUtilization();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const cpu = process.cpuUsage();
    const threadCpu = process.threadCpuUsage();
    const started = performance.now();

    const postMs: number[] = [];
    const answers = await Promise.all(
      requests.map(async (request) => {
        const t = performance.now();
        const answer = await onboardTenant(api, request);
        postMs.push(performance.now() - t);
        return answer;
      }),
    );
    await api.runtime.engine.idle();
    const wallMs = performance.now() - started;

    const cpuUsed = process.cpuUsage(cpu);
    const threadCpuUsed = process.threadCpuUsage(threadCpu);
    const utilization = performance.eventLoopUtilization(elu).utilization;
    delay.disable();
    clearInterval(sampler);
    let byComponent: Level["profile"];
    if (session) {
      const { profile: cpuProfile } = await session.post("Profiler.stop");
      session.disconnect();
      byComponent = summarizeProfile(cpuProfile);
    }

    // Why each failure failed: the POST's answer, or the tenant's status, error and failed steps.
    const failures: string[] = answers
      .filter((a) => a.status !== 202)
      .map((a) => `POST ${a.status}: ${a.body.slice(0, 200)}`);
    for (const request of requests) {
      const stored = await api.runtime.store.getTenant(request.tenantId);
      if (stored?.tenant.status === "succeeded") continue;
      const t = stored?.tenant;
      const steps = t?.steps
        .filter((s) => s.status === "failed" && s.error)
        .map((s) => `${s.name} ${s.error!.code}`);
      failures.push(
        `${t?.status ?? "missing"} ${t?.error?.code ?? ""} ${t?.error?.message ?? ""} [${steps?.join(", ") ?? ""}]`,
      );
    }
    const failed = failures.length;
    for (const f of failures.slice(0, 5)) log(`scale ${n}: failed: ${f}`);
    return {
      n,
      wallMs,
      failed,
      failures: failures.slice(0, 20),
      postP50Ms: percentile(postMs, 50),
      postP99Ms: percentile(postMs, 99),
      peakRssMiB: peakRss / 2 ** 20,
      cpuSeconds: (threadCpuUsed.user + threadCpuUsed.system) / 1e6,
      processCpuSeconds: (cpuUsed.user + cpuUsed.system) / 1e6,
      eventLoopUtilization: utilization,
      eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
      ...(byComponent ? { profile: byComponent } : {}),
    };
  } finally {
    await api.close();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  children?: number[];
}

/**
 * Share of CPU samples per component (self time; a native frame such as JSON.parse or a
 * crypto binding is charged to the nearest JavaScript caller that has a source file).
 */
export function summarizeProfile(profile: { nodes: ProfileNode[]; samples?: number[] }): {
  packages: Record<string, number>;
  components: Record<string, number>;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const owner = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.url) return packageOf(frame.url);
      if (at === id && /^\((garbage collector|idle|program)\)$/.test(frame.functionName))
        return frame.functionName;
    }
    return "(native, no caller)";
  };
  const packages = new Map<string, number>();
  const samples = profile.samples ?? [];
  for (const id of samples) {
    const key = owner(id);
    packages.set(key, (packages.get(key) ?? 0) + 1);
  }
  const share = (entries: Iterable<[string, number]>) =>
    Object.fromEntries(
      [...entries]
        .map(([key, c]) => [key, round((100 * c) / Math.max(1, samples.length), 1)] as const)
        .sort((a, b) => b[1] - a[1]),
    );
  const components = new Map<string, number>();
  for (const [pkg, c] of packages) {
    const key = componentOf(pkg);
    components.set(key, (components.get(key) ?? 0) + c);
  }
  return { packages: share(packages), components: share(components) };
}

function packageOf(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/((?:functions|infra|workflows|bench)(?:\/[a-z0-9-]+)*)\/[^/]+$/.exec(url);
  if (ours) {
    const parts = ours[1]!.split("/");
    return parts.slice(0, parts[1] === "adapters" || parts[1] === "local" ? 3 : 2).join("/");
  }
  if (url.startsWith("wasm://")) return "node:undici (wasm)";
  const internal = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
  if (internal) return `node:${internal[1]}`;
  return url;
}

/** Coarse components of the local runtime, by package or folder. */
function componentOf(pkg: string): string {
  if (/^(dynalite|(abstract|classic|memory)-level|level|lazy|big\.js|buffer-crc32|lock|async)/.test(pkg))
    return "DynamoDB engine (dynalite, LevelDB)";
  if (/^@(aws-sdk|smithy)\//.test(pkg) || pkg === "functions/adapters/dynamodb")
    return "DynamoDB client (AWS SDK, store)";
  if (pkg === "infra/local/m365-simulator") return "Microsoft 365 simulator";
  if (/^@(azure|microsoft|typespec)\//.test(pkg) || pkg === "functions/adapters/m365")
    return "Microsoft 365 clients (MSAL, Graph, Exchange)";
  if (
    /^(aws-local-stepfunctions|jsonpath)/.test(pkg) ||
    pkg === "workflows" ||
    pkg === "functions/adapters/workflow"
  )
    return "workflow engine (aws-local-stepfunctions)";
  if (
    /^(@middy|@aws-lambda-powertools|zod)/.test(pkg) ||
    /^functions\/(api|commons)|^infra\/local\/http/.test(pkg)
  )
    return "API (middy, Powertools, zod, HTTP front door)";
  if (/^node:(_?tls|crypto|net|_?http|https|stream|url|deps|undici|webstreams|dns)/.test(pkg))
    return "Node networking (TLS, HTTP, fetch, streams)";
  if (pkg.startsWith("node:")) return "Node runtime (events, timers, buffers, fs)";
  if (pkg.startsWith("(")) return pkg;
  if (pkg.startsWith("functions/")) return "product code (tasks, domain)";
  return "other";
}

export async function run(): Promise<Result> {
  const levels: Level[] = [];
  for (const n of LEVELS) {
    const level = await runLevel(n, n === LEVELS.at(-1));
    levels.push(level);
    log(
      `scale ${n}: ${round(level.wallMs)} ms, ${round(n / (level.wallMs / 1000), 1)} onboardings/s, ${level.failed} failed, peak RSS ${round(level.peakRssMiB)} MiB, CPU ${round(level.cpuSeconds, 1)} s, event loop ${round(100 * level.eventLoopUtilization)}% busy`,
    );
  }
  const one = levels[0]!.wallMs;
  const rows = levels.map((l) => ({
    concurrent: l.n,
    "wall ms": round(l.wallMs),
    "x one": round(l.wallMs / one, 2),
    "onboardings/s": round(l.n / (l.wallMs / 1000), 1),
    failed: l.failed,
    "POST p50 ms": round(l.postP50Ms),
    "POST p99 ms": round(l.postP99Ms),
    "peak RSS MiB": round(l.peakRssMiB),
    "service CPU s": round(l.cpuSeconds, 1),
    "service CPU ms per onboarding": round((1000 * l.cpuSeconds) / l.n),
    "process CPU ms per onboarding": round((1000 * l.processCpuSeconds) / l.n),
    "event loop busy %": round(100 * l.eventLoopUtilization),
    "event loop delay p99 ms": round(l.eventLoopDelayP99Ms),
  }));
  const largest = levels.at(-1)!;
  const factor = largest.wallMs / one;
  const components = Object.entries(largest.profile?.components ?? {});
  const cpuPerOnboardingMs = (1000 * largest.cpuSeconds) / largest.n;
  const budgetMs = (TARGET_FACTOR * one) / largest.n;
  return {
    name: "scale",
    title: `Scale: concurrent onboardings through the HTTP API (${modeName(MODE)}, ${LATENCY_MS} ms per Microsoft 365 call)`,
    columns: Object.keys(rows[0] ?? {}),
    rows,
    targets: [
      {
        name: `${largest.n} at once`,
        target: `<= ${TARGET_FACTOR}x the time of one, none fails`,
        measured: `${round(factor, 1)}x (${round(largest.wallMs)} ms vs ${round(one)} ms), ${largest.failed} failed`,
        met: factor <= TARGET_FACTOR && largest.failed === 0,
      },
      {
        name: "service CPU",
        target: `<= ${TARGET_CPU_MS} ms per onboarding (main thread, ${largest.n} at once)`,
        measured: `${round(cpuPerOnboardingMs, 1)} ms`,
        met: cpuPerOnboardingMs <= TARGET_CPU_MS,
      },
    ],
    notes: [
      `Wall = first POST until every execution ended (fresh runtime per level, one warm-up onboarding first). Service CPU = user+system CPU of the main thread during the level (API, engine, tasks, their DynamoDB and Microsoft 365 clients); process CPU adds the worker threads of dynalite (the local DynamoDB) and the simulator. Event loop busy = the main thread's utilisation (100% = one core saturated).`,
      `The service is one thread: at ${round(cpuPerOnboardingMs)} ms of CPU per onboarding, ${largest.n} onboardings need ${round((largest.n * cpuPerOnboardingMs) / 1000, 1)} s of it whatever the concurrency; the target (${TARGET_FACTOR}x one = ${round(TARGET_FACTOR * one)} ms) needs at most ${round(budgetMs, 1)} ms per onboarding on this thread.`,
      `Where the main thread's CPU went at ${largest.n} (CPU profile, self time, % of samples): ${components.map(([k, v]) => `${k} ${v}%`).join(", ")}.`,
    ],
    details: { levels: levels.map((l) => ({ ...l, wallMs: round(l.wallMs, 1) })) },
  };
}
