/** The local runtime's own guarantees (SPEC section 7). */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { describe, expect, it } from "vitest";
import { startLocalRuntime } from "../infra/local/runtime.ts";

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
