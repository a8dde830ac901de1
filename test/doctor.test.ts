/**
 * `npx onboarding doctor` against the simulator, through the CLI in-process: read-only and with
 * --write-test it passes, its report lists every assumed row of docs/m365-fidelity.md, the write
 * test leaves nothing behind, the committed baseline is the simulator's, a secret is warned
 * about, and a missing role fails the preflight.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redact } from "../functions/cli/doctor/answers.ts";
import { assumedRows } from "../functions/cli/doctor/repo-files.ts";
import type { DoctorReport } from "../functions/cli/doctor/report.ts";
import { runCli } from "../functions/cli/program.ts";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import {
  BASELINE_FILE,
  prepareTenant,
  renderBaseline,
  simulatorEnv,
} from "../infra/tools/doctor-baseline.ts";

let sim: Simulator;
let dir: string;
let env: NodeJS.ProcessEnv;
let assumed: { id: string; title: string }[];
beforeAll(async () => {
  sim = await startSimulator({ clientCertificate: true });
  dir = await mkdtemp(join(tmpdir(), "doctor-test-"));
  env = await simulatorEnv(sim, dir);
  assumed = assumedRows(await readFile(new URL("../docs/m365-fidelity.md", import.meta.url), "utf8"));
});
afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

async function doctor(args: string[], environment = env) {
  const out = join(dir, `report-${Math.random().toString(36).slice(2)}`);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(["doctor", ...args, "--out", out], {
    stdout: { write: (s: string) => stdout.push(s) },
    stderr: { write: (s: string) => stderr.push(s) },
    env: environment,
    stderrIsTty: false,
    stdinIsTty: false,
  });
  const report = JSON.parse(await readFile(`${out}.json`, "utf8")) as DoctorReport;
  const markdown = await readFile(`${out}.md`, "utf8");
  return { code, report, markdown, stdout: stdout.join(""), stderr: stderr.join("") };
}

describe("doctor against the simulator", () => {
  it("read-only: passes, changes nothing, and lists every assumed row with a verdict", async () => {
    expect(assumed.length).toBeGreaterThan(20);
    const tenantId = await prepareTenant(sim);
    const before = sim.calls(tenantId).filter((c) => c.write).length;
    const run = await doctor(["--tenant", tenantId]);
    expect(run.report.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(run.code).toBe(0);
    expect(sim.calls(tenantId).filter((c) => c.write)).toHaveLength(before);
    expect(run.report.rows.map((r) => r.id)).toEqual(assumed.map((a) => a.id));
    for (const row of assumed) expect(run.markdown).toContain(`| ${row.id} |`);
    const verdicts = Object.fromEntries(run.report.rows.map((r) => [r.id, r.verdict]));
    expect(verdicts).toMatchObject({
      E9: "confirmed",
      A3: "confirmed",
      P1: "confirmed",
      G4: "confirmed",
      R8: "confirmed",
      E12: "confirmed",
    });
    expect(verdicts["G2"]).toBe("unknown");
    expect(run.report.checks.find((c) => c.id === "credential")?.status).toBe("pass");
    expect(run.report.baseline.filter((b) => b.verdict === "differs")).toEqual([]);
    expect(run.stdout).toMatch(/^ok: 0 failed checks; assumed rows: \d+ confirmed, 0 refuted, \d+ unknown/);
    // No token and no e-mail address in the report.
    const all = JSON.stringify(run.report) + run.markdown;
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    expect(all).not.toContain(sim.demo(tenantId).admin);
  });

  it("--write-test: creates, validates and removes its objects, records their shapes, leaves nothing behind", async () => {
    const tenantId = await prepareTenant(sim);
    const before = sim.tenant(tenantId);
    const run = await doctor(["--tenant", tenantId, "--write-test"]);
    expect(run.report.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.report.checks.find((c) => c.id === "write:cleanup")?.status).toBe("pass");
    const verdicts = Object.fromEntries(run.report.rows.map((r) => [r.id, r.verdict]));
    expect(verdicts).toMatchObject({ G2: "confirmed", O12: "confirmed", O1: "confirmed" });
    const after = sim.tenant(tenantId);
    expect(after.connectors).toEqual(before.connectors);
    expect(after.journalRules).toEqual(before.journalRules);
    expect(after.groups).toEqual(before.groups);
    expect(after.journalingReportNdrTo).toBe(before.journalingReportNdrTo);
    expect(sim.calls(tenantId).filter((c) => c.operation === "Validate-OutboundConnector")).toHaveLength(1);
    expect(run.report.baseline.filter((b) => b.verdict === "differs")).toEqual([]);

    // The committed baseline is exactly what the simulator answers (npm run doctor:baseline).
    expect(renderBaseline(run.report)).toBe(await readFile(BASELINE_FILE, "utf8"));
  });

  it("warns on a client secret, and fails the preflight naming a missing role", async () => {
    const tenantId = await prepareTenant(sim);
    sim.setAppRoles(tenantId, {
      exchangeAdministrator: false,
      roles: requiredRoles({ region: "split", outboundGateway: true }).filter((r) => r !== "Journaling"),
    });
    const secretEnv: NodeJS.ProcessEnv = { ...env, M365_CLIENT_SECRET: sim.clientSecret };
    delete secretEnv["M365_CLIENT_CERTIFICATE_PATH"];
    const run = await doctor(["--tenant", tenantId], secretEnv);
    expect(run.code).toBe(1);
    expect(run.report.checks.find((c) => c.id === "credential")?.status).toBe("warn");
    const preflight = run.report.checks.find((c) => c.id === "preflight");
    expect(preflight?.status).toBe("fail");
    expect(preflight?.detail).toContain("New-JournalRule (Journaling)");
    expect(run.report.rows.find((r) => r.id === "R8")?.verdict).toBe("confirmed");
  });

  it("redacts tokens and addresses", () => {
    expect(redact('{"a":"eyJhbGciOi.eyJzdWIiOiJ4In0.sig","b":"Alice.Smith@contoso.com"}')).toBe(
      '{"a":"<token>","b":"<address>"}',
    );
  });
});
