/**
 * `doctor`: checks the app against one real tenant with the service's own M365_* credentials
 * (not the API) and writes a Markdown and a JSON report; exits with ExitCode.ApiError when a
 * check failed.
 */
import { writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import type { RegionMode } from "../../domain/provider.ts";
import { parseGuid } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { doctorRedirectUri, loopbackSignIn } from "../doctor/loopback-sign-in.ts";
import { renderDoctorMarkdown } from "../doctor/markdown.ts";
import { runDoctor } from "../doctor/run-doctor.ts";
import { ExitCode } from "../errors.ts";
import { clean } from "../format.ts";

interface DoctorCommandOptions {
  tenant: string;
  writeTest?: boolean;
  region: RegionMode;
  gateway: boolean;
  out: string;
  adminSignIn?: boolean;
}

export function registerDoctor(program: Command, ctx: CommandContext): void {
  program
    .command("doctor")
    .description(
      "Checks the app against one real tenant with the service's M365_* credentials: token, Graph, permissions, reads, and the assumed rows of docs/m365-fidelity.md; writes a Markdown and a JSON report",
    )
    .requiredOption("--tenant <tenantId>", "the customer's Entra tenant id (GUID)", parseGuid)
    .option("--write-test", "also create, validate and remove uniquely named objects (a test tenant only)")
    .addOption(
      new Option("--region <region>", "the onboarding mode whose permissions to check")
        .choices(["us", "eu", "split"])
        .default("split"),
    )
    .option("--no-gateway", "check without the outbound connector's cmdlets")
    .option(
      "--admin-sign-in",
      "also probe the least-privilege setup at consent: an Exchange admin signs in once",
    )
    .option("--out <path>", "report path, without extension: <path>.md and <path>.json", "doctor-report")
    .action((opts: DoctorCommandOptions) => doctor(opts, ctx));
}

async function doctor(opts: DoctorCommandOptions, ctx: CommandContext): Promise<void> {
  const { io } = ctx;
  const report = await runDoctor({
    env: io.env,
    tenantId: opts.tenant,
    writeTest: opts.writeTest === true,
    mode: { region: opts.region, outboundGateway: opts.gateway },
    log: (line) => io.stderr.write(`${clean(line)}\n`),
    ...(opts.adminSignIn && {
      adminSignIn: loopbackSignIn(doctorRedirectUri(io.env), (line) => io.stderr.write(`${line}\n`)),
    }),
  });
  const base = opts.out.replace(/\.(md|json)$/i, "");
  await writeFile(`${base}.md`, renderDoctorMarkdown(report));
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const counts = (["confirmed", "refuted", "unknown"] as const)
    .map((v) => `${report.rows.filter((r) => r.verdict === v).length} ${v}`)
    .join(", ");
  ctx.out(
    `${report.ok ? "ok" : "problems found"}: ${report.checks.filter((c) => c.status === "fail").length} failed checks; assumed rows: ${counts}. Report: ${clean(base)}.md, ${clean(base)}.json`,
  );
  if (!report.ok) ctx.state.exitCode = ExitCode.ApiError;
}
