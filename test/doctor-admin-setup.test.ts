/**
 * `doctor --admin-sign-in` against the simulator: an admin signs in once (the browser round trip
 * done by fetch), the probe reads as that admin and, with --write-test, runs the least-privilege
 * setup; the assumed rows A7-A11 get verdicts, and the admin's token is nowhere in the report.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderDoctorMarkdown } from "../functions/cli/doctor/markdown.ts";
import { runDoctor } from "../functions/cli/doctor/run-doctor.ts";
import { ROLE_GROUP_NAME } from "../functions/domain/permissions-script.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { prepareTenant, simulatorEnv } from "../infra/tools/doctor-baseline.ts";

const PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814";

let sim: Simulator;
let dir: string;
let env: NodeJS.ProcessEnv;
let fidelity: string;
beforeAll(async () => {
  sim = await startSimulator({ clientCertificate: true });
  dir = await mkdtemp(join(tmpdir(), "doctor-admin-"));
  env = await simulatorEnv(sim, dir);
  fidelity = await readFile(new URL("../docs/m365-fidelity.md", import.meta.url), "utf8");
});
afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The admin's browser: follows the authorize URL to the redirect, which it returns. */
const browser = async (url: string) =>
  (await fetch(url, { redirect: "manual" })).headers.get("location") ?? "";

describe("doctor --admin-sign-in", () => {
  it("with --write-test: the admin's sign-in sets up the role group; A8-A11 confirmed, no token in the report", async () => {
    const tenantId = await prepareTenant(sim, randomUUID());
    sim.setAppRoles(tenantId, { exchangeAdministrator: false });
    const report = await runDoctor({
      env,
      tenantId,
      writeTest: true,
      mode: { region: "us", outboundGateway: true },
      fidelityMarkdown: fidelity,
      baseline: {},
      adminSignIn: browser,
    });
    const verdicts = Object.fromEntries(report.rows.map((r) => [r.id, r.verdict]));
    expect(verdicts).toMatchObject({
      A8: "confirmed",
      A9: "confirmed",
      A10: "confirmed",
      A11: "confirmed",
    });
    expect(report.checks.find((c) => c.id === "admin-setup")?.status).toBe("pass");
    expect(sim.tenant(tenantId).roleGroups.map((g) => g.name)).toContain(ROLE_GROUP_NAME);
    const all = JSON.stringify(report) + renderDoctorMarkdown(report);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });

  it("without it the rows stay unknown and say why; an admin without Exchange rights is reported", async () => {
    const tenantId = await prepareTenant(sim, randomUUID());
    const plain = await runDoctor({ env, tenantId, fidelityMarkdown: fidelity, baseline: {} });
    expect(plain.rows.find((r) => r.id === "A8")).toMatchObject({
      verdict: "unknown",
      detail: expect.stringContaining("--admin-sign-in"),
    });
    sim.setSignInUser(tenantId, { roles: [PRIVILEGED_ROLE_ADMINISTRATOR] });
    const refused = await runDoctor({
      env,
      tenantId,
      fidelityMarkdown: fidelity,
      baseline: {},
      adminSignIn: browser,
    });
    expect(refused.rows.find((r) => r.id === "A8")?.verdict).toBe("refuted");
  });
});
