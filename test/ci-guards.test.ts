/**
 * A green CI run means the tests ran: a committed `.only` fails it (Biome's noFocusedTests as an
 * error, and vitest's allowOnly off when CI is set, as .ci/run sets it).
 */
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

describe("CI refuses a committed .only", () => {
  it("Biome's noFocusedTests is an error (npm run lint fails), not the preset's warning", async () => {
    const biome = JSON.parse(await readFile(join(ROOT, "biome.json"), "utf8"));
    expect(biome.linter.rules.suspicious.noFocusedTests).toBe("error");
  });

  it("vitest does not allow it when CI is set, and .ci/run sets CI", async () => {
    const probe = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const c = await import("./vitest.config.ts"); console.log(String(c.default.test.allowOnly));',
      ],
      { cwd: ROOT, env: { ...process.env, CI: "true" }, encoding: "utf8" },
    );
    expect(probe.stdout.trim(), probe.stderr).toBe("false");
    expect(await readFile(join(ROOT, ".ci", "run"), "utf8")).toMatch(/^export CI=true$/m);
  });
});
