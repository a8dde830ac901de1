/**
 * `npx onboarding doctor`: proves the product's assumptions about Exchange Online on one real
 * tenant, in minutes. With the app's credentials (the service's own M365_* variables) and a
 * tenant id it checks, read-only by default: the credential kind, tokens, Graph, the permission
 * preflight, every read cmdlet, the role of each cmdlet (`Get-ManagementRole -Cmdlet`), and the
 * answer shapes behind the "assumed" rows of docs/m365-fidelity.md. `--write-test` also creates,
 * validates and removes uniquely named objects (a disabled connector to a non-delivering host,
 * a disabled journal rule, an empty group), records their shapes and checks nothing is left.
 *
 * The report (Markdown and JSON) lists every assumed row as confirmed, refuted or unknown, with
 * the raw answers (tokens and e-mail addresses removed), and compares each answer's shape with
 * the simulator's (docs/doctor-baseline.json, `npm run doctor:baseline`).
 *
 * This module runs the probes (probes/) in order and assembles the report; the verdicts are
 * in verdicts.ts, the comparison with the simulator in baseline.ts, the Markdown in markdown.ts.
 */
import { readM365AppConfig, resolveM365Endpoints } from "../../commons/config.ts";
import type { RegionMode } from "../../domain/provider.ts";
import { probeAdminSetup } from "./admin-setup.ts";
import { compareShape } from "./baseline.ts";
import { probeCredential, probePreflight, probeTokens } from "./probes/access.ts";
import { probeReads } from "./probes/reads.ts";
import { probeWrites } from "./probes/write-test.ts";
import { assumedRows, loadBaseline, loadFidelity } from "./repo-files.ts";
import type { Answers, DoctorReport, Shape } from "./report.ts";
import { DoctorSession } from "./session.ts";
import { verdictFor } from "./verdicts.ts";

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  tenantId: string;
  writeTest?: boolean;
  mode?: { region: RegionMode; outboundGateway: boolean };
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  /** docs/m365-fidelity.md and the baseline; defaults to the repository's files. */
  fidelityMarkdown?: string;
  baseline?: Record<string, Shape>;
  fetch?: typeof fetch;
  /** With it, the least-privilege setup's probe (A7-A12) as an admin who signs in once. */
  adminSignIn?: (authorizeUrl: string) => Promise<string>;
}

/** Runs every check; never changes the tenant unless `writeTest`. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const mode = options.mode ?? { region: "split" as RegionMode, outboundGateway: true };
  const writeTest = options.writeTest === true;
  const app = readM365AppConfig(options.env);
  if (!app)
    throw new Error(
      "doctor needs the app's credentials: M365_CLIENT_ID with M365_CLIENT_CERTIFICATE_PATH (or M365_CLIENT_SECRET)",
    );
  const resolved = resolveM365Endpoints(options.env);
  const s = new DoctorSession({
    tenantId: options.tenantId.toLowerCase(),
    mode,
    app,
    resolved,
    log: options.log ?? (() => undefined),
    ...(options.fetch && { fetch: options.fetch }),
  });
  probeCredential(s, app);
  const tokensOk = await probeTokens(s);
  const available = tokensOk ? await probePreflight(s) : undefined;
  const reads: Answers = tokensOk ? await probeReads(s, available) : {};
  const writes: Answers = writeTest && tokensOk ? await probeWrites(s, reads) : {};

  const fidelity = options.fidelityMarkdown ?? (await loadFidelity());
  const baseline = options.baseline ?? (await loadBaseline());
  const admin = options.adminSignIn
    ? await probeAdminSetup({ ...options, writeTest, mode, signIn: options.adminSignIn })
    : undefined;
  for (const c of admin?.checks ?? []) s.check(c.id, c.title, c.status, c.detail);
  const rows = assumedRows(fidelity).map((row) =>
    admin?.rows[row.id]
      ? { ...row, ...admin.rows[row.id]! }
      : verdictFor(row, { reads, writes, available, writeTest }),
  );
  if (!fidelity)
    s.check(
      "fidelity",
      "docs/m365-fidelity.md",
      "warn",
      "not found: the report cannot list the assumed rows",
    );

  return {
    generatedAt: new Date().toISOString(),
    tenantId: s.tenantId,
    mode,
    writeTest,
    target: resolved.endpoints,
    checks: s.checks,
    rows,
    observations: s.observations,
    baseline: s.observations.map((o) => compareShape(o, baseline[o.key])),
    ok: s.checks.every((c) => c.status !== "fail"),
  };
}
