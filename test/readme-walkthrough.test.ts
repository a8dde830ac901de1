/**
 * The README's walk-through as a newcomer runs it: `npm start` exactly as the README says (its
 * first block), then its shell commands verbatim in bash from a fresh folder, up to and including
 * step 5 (the webhook): the partner is created, the tenant onboarded after the consent, its
 * history read, and the loopback webhook registered (it needs the setting the README starts with).
 * Only the API's and the simulator's URLs are put in (the test cannot have port 3000 to itself).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
let dir: string;
let service: ChildProcess | undefined;
let output = "";

/** The README's `sh` blocks of the walk-through section, in order. */
async function walkthroughBlocks(): Promise<string[]> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(
    readme.indexOf("## Walk-through"),
    readme.indexOf("\n## ", readme.indexOf("## Walk-through") + 3),
  );
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "readme-"));
});

afterAll(async () => {
  if (service?.pid) {
    try {
      process.kill(-service.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the README walk-through, verbatim", () => {
  it("steps 1 to 5 work as written, the webhook included", async () => {
    const [start, script] = await walkthroughBlocks();
    // The start command as written, with this test's own port and a data folder where the
    // script runs (the script reads .data/ relative to where it runs, as from the repository).
    const [envAssignment, command] = start!.trim().split(/\s+(?=npm start)/);
    expect(command).toBe("npm start");
    const [name, value] = envAssignment!.split("=");
    service = spawn("npm", ["start"], {
      cwd: ROOT,
      env: {
        ...process.env,
        [name!]: value!,
        PORT: "0",
        DATA_DIR: join(dir, ".data"),
        POWERTOOLS_LOG_LEVEL: "ERROR",
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    service.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const deadline = Date.now() + 60_000;
    while (!/Journal onboarding API\s+http/.test(output) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const api = /Journal onboarding API\s+(http:\/\/\S+)/.exec(output)![1]!;
    const steps = script!.slice(0, script!.indexOf("# 6.")).replaceAll("http://127.0.0.1:3000", api);
    const run = spawnSync("bash", ["-e", "-c", `${steps}\necho "PARTNER_KEY_SET=\${PARTNER_KEY:+yes}"`], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PATH: process.env["PATH"] },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("PARTNER_KEY_SET=yes");
    expect(run.stdout).toContain("Consent received");
    // Step 5: the loopback receiver is accepted, and its secret shown once.
    expect(run.stdout).toMatch(/"secret":"whsec_/);
    expect(run.stdout).not.toContain("must use https");
  });
});
