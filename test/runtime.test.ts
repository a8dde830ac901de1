// Local form only: the local runtime's process (the AWS form's SIGTERM and restart: test/aws/api.test.ts, crash.test.ts).
/** The local runtime's own guarantees: one instance per DATA_DIR, and a graceful stop. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { describe, expect, it } from "vitest";
import { startLocalRuntime } from "../infra/local/runtime.ts";
import { consentAsAdmin } from "./support/browser.ts";

// Request lines of the API's own logger would drown the test output.
process.env["POWERTOOLS_LOG_LEVEL"] ??= "ERROR";
const quiet = () => new Logger({ serviceName: "test-runtime", logLevel: "ERROR" });

describe("local runtime", () => {
  it("serves one instance per DATA_DIR, keeps its ops key, and takes over a lock a crash left", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "runtime-lock-"));
    try {
      const first = await startLocalRuntime({ port: 0, dataDir, env: {}, logger: quiet() });
      await expect(startLocalRuntime({ port: 0, dataDir, env: {}, logger: quiet() })).rejects.toThrow(
        /in use by another running instance/,
      );
      const key = first.opsApiKey;
      expect(first.opsApiKeyGenerated).toBe(true);
      await first.close({ graceMs: 0 });

      // A lock whose owner is gone (SIGKILL) does not block the next start.
      await writeFile(join(dataDir, "service.pid"), "2147483646\n");
      const second = await startLocalRuntime({ port: 0, dataDir, env: {}, logger: quiet() });
      expect(second.opsApiKey).toBe(key);
      expect(second.opsApiKeyGenerated).toBe(false);
      expect(await (await fetch(`${second.url}/health`)).json()).toEqual({ status: "ok" });
      await second.close({ graceMs: 0 });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("stopping", () => {
  it("npm start stops on SIGTERM to npm: port free, no process left, lock released, exit 0", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "runtime-stop-"));
    const { child, group, output } = npmStart({ DATA_DIR: dataDir });
    try {
      const url = await waitUntil(
        () => /Journal onboarding API\s+(http:\/\/\S+)/.exec(output())?.[1],
        60_000,
        () => output(),
      );
      expect(output()).toContain(`${url}/console`);
      // Where the simulator's CA is, to trust it for curl or in a browser (consent links).
      expect(output()).toMatch(/Simulator CA\s+\S+\/m365-simulator\/ca\.pem/);
      expect(output()).toMatch(/curl -H "Authorization: Bearer jops_[\w-]+" http:\/\/\S+\/v1\/openapi\.json/);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect(existsSync(join(dataDir, "service.pid"))).toBe(true);

      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      process.kill(child.pid!, "SIGTERM"); // npm itself, not node
      expect(await exited).toBe(0);
      await waitUntil(
        () => !groupAlive(group) || undefined,
        15_000,
        () => "processes left in the group",
      );
      expect(groupAlive(group)).toBe(false);
      await expect(fetch(`${url}/health`)).rejects.toThrow();
      expect(existsSync(join(dataDir, "service.pid"))).toBe(false);
      expect(output()).toContain("Stopped.");
    } finally {
      if (groupAlive(group)) process.kill(-group, "SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("a second signal stops at once and says what happens to the workflow it cuts off", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "runtime-twice-"));
    const { child, group, output } = npmStart({
      DATA_DIR: dataDir,
      // check-access's read of the transport config takes a minute: the workflow is running.
      M365_SIMULATOR_CONFIG: JSON.stringify({ slowCmdlets: { "Get-TransportConfig": 60_000 } }),
    });
    try {
      const url = await waitUntil(
        () => /Journal onboarding API\s+(http:\/\/\S+)/.exec(output())?.[1],
        60_000,
      );
      const key = /Ops API key\s+(jops_\S+)/.exec(output())![1]!;
      const call = async (method: string, path: string, body?: unknown, as = key) => {
        const r = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${as}`, "content-type": "application/json" },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
        return { status: r.status, body: await r.json() };
      };
      const partner = (await call("POST", "/v1/partners", { name: "p" })).body;
      const tenantId = randomUUID();
      const ndr = `admin@t${tenantId.slice(0, 8)}.onmicrosoft.com`;
      const body = { tenantId, customerName: "twice", region: "us", ndrAddress: ndr };
      expect((await call("POST", "/v1/tenants", body, partner.apiKey)).status).toBe(202);
      // Ops bind it by hand (no browser here): onboarding starts and waits on Exchange.
      const bound = await call("POST", `/v1/tenants/${tenantId}/retry`, {
        bindTenant: true,
        partnerId: partner.partnerId,
      });
      expect(bound.status, JSON.stringify(bound.body)).toBe(202);
      await waitUntil(
        async () =>
          (await call("GET", `/v1/tenants/${tenantId}`)).body.status === "running" ? true : undefined,
        20_000,
      );

      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      process.kill(child.pid!, "SIGTERM");
      await waitUntil(
        () => (output().includes("stopping (running workflows get") ? true : undefined),
        10_000,
      );
      await new Promise((r) => setTimeout(r, 1_200)); // a second signal, not the first one twice
      process.kill(child.pid!, "SIGTERM");
      expect(await exited).not.toBe(0);
      expect(output()).toContain("SIGTERM again: stopping now.");
      // What does happen: the next start marks it failed (INTERRUPTED), and a retry finishes it.
      expect(output()).toContain("marked failed (INTERRUPTED) at the next start");
      expect(output()).not.toMatch(/retried after the next start/);
    } finally {
      if (groupAlive(group)) process.kill(-group, "SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("lets a workflow that can finish in time finish instead of marking it INTERRUPTED", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "runtime-grace-"));
    try {
      const runtime = await startLocalRuntime({
        port: 0,
        dataDir,
        env: {},
        logger: quiet(),
        retryScale: 0.001,
      });
      const sim = runtime.simulator!;
      const ops = { authorization: `Bearer ${runtime.opsApiKey}`, "content-type": "application/json" };
      const partner = await (
        await fetch(`${runtime.url}/v1/partners`, { method: "POST", headers: ops, body: '{"name":"p"}' })
      ).json();
      const tenantId = randomUUID();
      sim.failNext(tenantId, "Get-TransportConfig", { kind: "delay", ms: 1_500 }, 1);
      const res = await fetch(`${runtime.url}/v1/tenants`, {
        method: "POST",
        headers: { ...ops, authorization: `Bearer ${partner.apiKey}` },
        body: JSON.stringify({
          tenantId,
          customerName: "c",
          region: "us",
          ndrAddress: sim.demo(tenantId).admin,
        }),
      });
      expect(res.status).toBe(202);
      // The customer's admin consents through the partner's link; onboarding starts.
      expect((await consentAsAdmin((await res.json()).consentUrl)).status).toBe(200);
      await waitUntil(
        async () => (await runtime.store.getTenant(tenantId))?.tenant.status === "running" || undefined,
        10_000,
      );
      await runtime.close({ graceMs: 20_000 });

      const again = await startLocalRuntime({ port: 0, dataDir, env: {}, logger: quiet() });
      try {
        expect(again.recovered).toEqual([]);
        const { tenant } = (await again.store.getTenant(tenantId))!;
        expect(tenant.status).toBe("succeeded");
        expect(tenant.error).toBeUndefined();
      } finally {
        await again.close({ graceMs: 0 });
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("stops a workflow that cannot finish in time after its running step, then marks it INTERRUPTED", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "runtime-cut-"));
    try {
      const runtime = await startLocalRuntime({
        port: 0,
        dataDir,
        env: {},
        logger: quiet(),
        retryScale: 0.001,
      });
      const sim = runtime.simulator!;
      const partner = await (
        await fetch(`${runtime.url}/v1/partners`, {
          method: "POST",
          headers: { authorization: `Bearer ${runtime.opsApiKey}`, "content-type": "application/json" },
          body: '{"name":"p"}',
        })
      ).json();
      const tenantId = randomUUID();
      sim.failNext(tenantId, "Set-TransportConfig", { kind: "delay", ms: 1_500 }, 1);
      const posted = await fetch(`${runtime.url}/v1/tenants`, {
        method: "POST",
        headers: { authorization: `Bearer ${partner.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          tenantId,
          customerName: "c",
          region: "us",
          ndrAddress: sim.demo(tenantId).admin,
        }),
      });
      expect((await consentAsAdmin((await posted.json()).consentUrl)).status).toBe(200);
      await waitUntil(async () => {
        const stored = await runtime.store.getTenant(tenantId);
        return (
          stored?.tenant.steps.find((s) => s.name === "journal-settings")?.status === "running" || undefined
        );
      }, 10_000);
      await runtime.close({ graceMs: 100 });

      const again = await startLocalRuntime({ port: 0, dataDir, env: {}, logger: quiet() });
      try {
        expect(again.recovered).toEqual([tenantId]);
        const { tenant } = (await again.store.getTenant(tenantId))!;
        expect(tenant.status).toBe("failed");
        expect(tenant.error?.code).toBe("INTERRUPTED");
        const steps = Object.fromEntries(tenant.steps.map((s) => [s.name, s.status]));
        // The step in progress finished; the next one never started.
        expect(steps).toMatchObject({ "journal-settings": "succeeded", "journal-rules": "pending" });
      } finally {
        await again.close({ graceMs: 0 });
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * `npm start` in its own process group (to see every process npm started), its stdout and
 * stderr collected in `output()`.
 */
function npmStart(env: Record<string, string>): { child: ChildProcess; group: number; output: () => string } {
  const child = spawn("npm", ["start"], {
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...process.env, PORT: "0", POWERTOOLS_LOG_LEVEL: "ERROR", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  return { child, group: child.pid!, output: () => out };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  describe: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
