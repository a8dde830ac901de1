// Local form only: the simulator's own process and npm start's port (no service form involved).
/**
 * The simulator as a newcomer runs it: `npm run simulator` stops on SIGINT and SIGTERM sent to
 * npm (no orphan left on its port), keeps its port across restarts (also under `npm start`),
 * takes a port pinned by M365_SIMULATOR_PORT, and answers an unknown tamper action with a 400.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Logger } from "@aws-lambda-powertools/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSimulator } from "../infra/local/m365-simulator/remote.ts";
import { startLocalRuntime } from "../infra/local/runtime.ts";

const ROOT = join(import.meta.dirname, "..");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sim-process-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `npm run simulator` with DATA_DIR; resolves with the child and the URL it printed. */
async function npmSimulator(env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn("npm", ["run", "--silent", "simulator"], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for await (const line of createInterface({ input: child.stdout! })) {
    const url = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
    if (url) return { child, url };
  }
  throw new Error("the simulator printed no URL");
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`still running ${ms} ms after the signal`));
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe("npm run simulator", () => {
  it("stops on SIGINT and on SIGTERM to npm, and starts again on the same port", async () => {
    const first = await npmSimulator();
    // npm forwards the signal; it may itself end by it (no exit code): what counts is that the
    // whole tree stopped and the port is free (no orphan simulator on it).
    first.child.kill("SIGINT");
    expect([0, null]).toContain(await exited(first.child, 10_000));
    expect(await portIsFree(portOf(first.url))).toBe(true);

    const second = await npmSimulator();
    expect(second.url).toBe(first.url);
    second.child.kill("SIGTERM");
    expect([0, null]).toContain(await exited(second.child, 10_000));
    expect(await portIsFree(portOf(second.url))).toBe(true);
  });

  it("takes the port of M365_SIMULATOR_PORT; an unknown tamper action is a 400", async () => {
    const wanted = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const { child, url } = await npmSimulator({ M365_SIMULATOR_PORT: String(wanted) });
    try {
      expect(portOf(url)).toBe(wanted);
      const remote = connectSimulator(url, {
        caPem: await readFile(join(dir, "m365-simulator", "ca.pem"), "utf8"),
      });
      await expect(remote.tamper("t1", { action: "disable-everything" } as never)).rejects.toThrow(
        /400 .*unknown tamper action .*disable-everything/,
      );
      await expect(remote.tamper("t1", { action: "revoke-consent" })).resolves.toBeUndefined();
    } finally {
      child.kill("SIGTERM");
      await exited(child, 10_000);
    }
  });
});

describe("npm start's simulator", () => {
  it("keeps its port across restarts of the runtime", async () => {
    const dataDir = join(dir, "runtime");
    const start = () =>
      startLocalRuntime({
        port: 0,
        dataDir,
        env: { DRIFT_CHECK_INTERVAL: "0" },
        logger: new Logger({ serviceName: "sim-port", logLevel: "ERROR" }),
      });
    const first = await start();
    const url = first.simulator!.url;
    await first.close({ graceMs: 1_000 });
    const second = await start();
    try {
      expect(second.simulator!.url).toBe(url);
    } finally {
      await second.close({ graceMs: 1_000 });
    }
  });
});
