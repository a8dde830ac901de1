/**
 * The service (`npm start`, infra/local/main.ts) and the Microsoft 365 simulator
 * (`npm run simulator`) as child processes, so that a suite can SIGKILL the service and
 * start it again on the same DATA_DIR while the simulator, like a real tenant, lives on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");

export interface Child {
  process: ChildProcess;
  /** Everything it printed (stdout and stderr), for the failure message. */
  output(): string;
  /** SIGKILL: no shutdown handler runs, nothing is flushed. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after a while. */
  stop(): Promise<void>;
}

async function startChild(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  /** SIGKILL it this long after the spawn if it is not ready by then. */
  killAfterMs?: number,
): Promise<{ child: Child; match: RegExpMatchArray; readyMs: number }> {
  const started = performance.now();
  const proc = spawn(process.execPath, [join(ROOT, script), ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const child: Child = {
    process: proc,
    output: () => output,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const match = await new Promise<RegExpMatchArray>((resolveMatch, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${script} did not start:\n${output.slice(-2000)}`));
    }, 30_000);
    const crash = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill("SIGKILL"), killAfterMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const m = output.match(ready);
      if (m) {
        clearTimeout(timer);
        clearTimeout(crash);
        resolveMatch(m);
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(crash);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
    });
  });
  return { child, match, readyMs: performance.now() - started };
}

/** The parts of the parent's environment a child needs (no inherited M365_*, PORT or keys). */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = ["PATH", "HOME", "TMPDIR", "LANG", "TZ", "SystemRoot"];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

export interface SimulatorChild extends Child {
  url: string;
  /** The variables that point the service at it (M365_*, NODE_EXTRA_CA_CERTS). */
  env: Record<string, string>;
  caPem: string;
}

/** `node infra/local/m365-simulator/main.ts --data-dir <dir> --port 0 ...`. */
export async function startSimulatorProcess(dataDir: string, args: string[] = []): Promise<SimulatorChild> {
  const { child, match } = await startChild(
    "infra/local/m365-simulator/main.ts",
    ["--data-dir", dataDir, "--port", "0", ...args],
    baseEnv(),
    /listening on (https:\/\/127\.0\.0\.1:\d+)/,
  );
  // `export NAME="value"` lines, values JSON-quoted.
  const text = await readFile(join(dataDir, "simulator.env"), "utf8");
  const env = Object.fromEntries(
    [...text.matchAll(/^export ([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, JSON.parse(m[2]!) as string]),
  );
  const caPem = await readFile(env["NODE_EXTRA_CA_CERTS"]!, "utf8");
  return { ...child, url: match[1]!, env, caPem };
}

export interface ServiceChild extends Child {
  url: string;
  /** From spawn to the printed URL. */
  readyMs: number;
}

const SERVICE = "infra/local/main.ts";
const SERVICE_READY = /Journal onboarding API\s+(http:\/\/127\.0\.0\.1:\d+)/;
const serviceEnv = (env: Record<string, string>) => ({
  ...baseEnv(),
  PORT: "0",
  POWERTOOLS_LOG_LEVEL: "ERROR",
  // The receiver is on loopback (a development setting), and the load is ours, not a partner's.
  WEBHOOK_ALLOW_LOOPBACK: "true",
  PARTNER_RATE_LIMIT_RPS: "10000",
  PARTNER_RATE_LIMIT_BURST: "10000",
  ...env,
});

/** `node infra/local/main.ts` with PORT=0 (it prints the URL it got). */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceChild> {
  const { child, match, readyMs } = await startChild(SERVICE, [], serviceEnv(env), SERVICE_READY);
  return { ...child, url: match[1]!, readyMs };
}

/**
 * Starts the service and SIGKILLs it `afterMs` after the spawn, in the middle of its start-up
 * (opening its state, recovering what the last crash left). Returns false if it was ready
 * before that (then it is killed right away).
 */
export async function crashDuringStart(env: Record<string, string>, afterMs: number): Promise<boolean> {
  try {
    const { child } = await startChild(SERVICE, [], serviceEnv(env), SERVICE_READY, afterMs);
    await child.kill();
    return false;
  } catch (err) {
    if ((err as Error).message.includes("SIGKILL")) return true;
    throw err;
  }
}
