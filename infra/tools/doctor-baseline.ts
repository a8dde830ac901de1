/**
 * `npm run doctor:baseline`: runs `doctor --write-test` against the Microsoft 365 simulator and
 * writes the shapes of its answers to docs/doctor-baseline.json, the baseline a real tenant's
 * report is compared with. `--check` only compares, and exits 1 when it differs.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createM365Gateway } from "../../functions/adapters/m365/gateway.ts";
import { baselineOf } from "../../functions/cli/doctor/baseline.ts";
import type { DoctorReport } from "../../functions/cli/doctor/report.ts";
import { runDoctor } from "../../functions/cli/doctor/run-doctor.ts";
import type { Simulator } from "../local/m365-simulator/index.ts";
import { startSimulator } from "../local/m365-simulator/index.ts";

export const BASELINE_FILE = new URL("../../docs/doctor-baseline.json", import.meta.url);

/** The service's M365_* variables for a simulator (certificate credential, as in production). */
export async function simulatorEnv(sim: Simulator, dir: string): Promise<NodeJS.ProcessEnv> {
  const certificatePath = join(dir, "client-certificate.pem");
  if (sim.clientCertificatePem) await writeFile(certificatePath, sim.clientCertificatePem, { mode: 0o600 });
  return {
    M365_CLIENT_ID: sim.clientId,
    ...(sim.clientCertificatePem
      ? { M365_CLIENT_CERTIFICATE_PATH: certificatePath }
      : { M365_CLIENT_SECRET: sim.clientSecret }),
    M365_AUTHORITY_HOST: sim.endpoints.authorityHost,
    M365_GRAPH_ENDPOINT: sim.endpoints.graph,
    M365_EXCHANGE_ENDPOINT: sim.endpoints.exchange,
  };
}

/**
 * A simulated tenant as a customer's test tenant would be: the NDR address set (journal rules
 * need it), a distribution group with members (its seeded one).
 */
export async function prepareTenant(sim: Simulator, tenantId = randomUUID()): Promise<string> {
  const gateway = createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
  });
  await gateway
    .tenant(tenantId)
    .exchange.setTransportConfig({ journalingReportNdrTo: sim.demo(tenantId).admin });
  return tenantId;
}

/** The doctor's report on a fresh simulated tenant. */
export async function doctorOnSimulator(options: { writeTest: boolean }): Promise<DoctorReport> {
  const dir = await mkdtemp(join(tmpdir(), "doctor-"));
  const sim = await startSimulator({ clientCertificate: true });
  try {
    const tenantId = await prepareTenant(sim);
    return await runDoctor({ env: await simulatorEnv(sim, dir), tenantId, writeTest: options.writeTest });
  } finally {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function renderBaseline(report: DoctorReport): string {
  return `${JSON.stringify(baselineOf(report), null, 2)}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const rendered = renderBaseline(await doctorOnSimulator({ writeTest: true }));
  if (process.argv.includes("--check")) {
    const current = await readFile(BASELINE_FILE, "utf8").catch(() => "");
    if (current !== rendered) {
      process.stderr.write("docs/doctor-baseline.json is out of date: run npm run doctor:baseline\n");
      process.exit(1);
    }
  } else {
    await writeFile(BASELINE_FILE, rendered);
    process.stdout.write("wrote docs/doctor-baseline.json\n");
  }
}
