/**
 * The README's walk-through as a newcomer runs it: `npm start` exactly as the README says (its
 * first block), then its whole shell block verbatim in bash from a fresh folder: the partner,
 * the tenant onboarded after the consent, its history, the loopback webhook (it needs the setting
 * the README starts with), the failed tenant corrected and retried, drift found, and offboarding.
 * Only the API's URL is put in (the test cannot have port 3000 to itself).
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
  it("every step works as written: consent, webhook, correction and retry, drift, offboarding", async () => {
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
    const steps = script!.replaceAll("http://127.0.0.1:3000", api);
    const check =
      'echo; test -n "$PARTNER_KEY" && echo PARTNER_KEY_SET=yes; curl -s $API/v1/tenants/$BAD -H "Authorization: Bearer $PARTNER_KEY"';
    const run = spawnSync("bash", ["-e", "-c", `${steps}\n${check}`], {
      cwd: dir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PATH: process.env["PATH"] },
    });
    expect(run.status, run.stderr + run.stdout.slice(-2000)).toBe(0);
    expect(run.stdout).toContain("PARTNER_KEY_SET=yes");
    expect(run.stdout).toContain("Consent received");
    // Step 5: the loopback receiver is accepted, and its secret shown once.
    expect(run.stdout).toMatch(/"secret":"whsec_/);
    expect(run.stdout).not.toContain("must use https");
    // Step 6: the failed tenant shows its code, is corrected (no 409) and ends succeeded.
    expect(run.stdout).toContain("INVALID_NDR_ADDRESS");
    expect(run.stdout).not.toMatch(/"status":409/);
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!).status).toBe("succeeded");
    // Step 7: the disabled rule is found as drift; step 8 ran to the end (bash -e, wait_for).
    expect(run.stdout).toMatch(/"inSync":false,"differences":\[\{"step":"journal-rules"/);
  });
});
