/**
 * The `onboarding` command line: ops work on tenants, webhook deliveries and partners through
 * the REST API. Configuration comes from the environment only (ONBOARDING_API_URL,
 * ONBOARDING_API_KEY): a key on the command line would end up in shell history and `ps`.
 * Every command prints a table or a summary for people, or with `--json` the API's JSON for
 * scripts. Exit codes: see `ExitCode` (errors.ts) and docs/operating.md.
 *
 * Each command (or group) lives in commands/; this module only assembles them.
 */
import { Command, CommanderError } from "commander";
import { registerDoctor } from "./commands/doctor.ts";
import { registerPartnerCommands } from "./commands/partners.ts";
import { registerPermissionsScript } from "./commands/permissions-script.ts";
import { registerTenantCommands } from "./commands/tenants.ts";
import { registerWebhookCommands } from "./commands/webhooks.ts";
import { type CliIo, createCommandContext, DEFAULT_API_URL } from "./context.ts";
import { ApiProblemError, CliError, ExitCode } from "./errors.ts";
import { clean } from "./format.ts";

export type { CliIo };
export { DEFAULT_API_URL };

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const state = { exitCode: ExitCode.Ok as number };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    const json = argv.includes("--json");
    if (err instanceof CliError) {
      reportError(io, err, json);
      return err.exitCode;
    }
    reportError(io, err as Error, json);
    return ExitCode.ApiError;
  }
}

function reportError(io: CliIo, err: Error, json: boolean): void {
  if (json) {
    const body =
      err instanceof ApiProblemError
        ? { ...err.problem, status: err.status, exitCode: err.exitCode }
        : { title: err.name, detail: err.message, exitCode: err instanceof CliError ? err.exitCode : 1 };
    io.stderr.write(`${JSON.stringify(body)}\n`);
    return;
  }
  io.stderr.write(`onboarding: ${err.message.split("\n").map(clean).join("\n")}\n`);
}

/** The whole command tree (also read by a test that checks docs/operating.md against it). */
export function buildProgram(io: CliIo, state: { exitCode: number }): Command {
  const program = new Command("onboarding")
    .description("Ops CLI of the journal onboarding service: tenants, webhook deliveries, partners.")
    .option("--json", "print JSON for scripts (errors as a JSON problem on stderr)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      "after",
      `
Environment:
  ONBOARDING_API_URL   base URL of the API (default ${DEFAULT_API_URL}; in AWS the stage URL)
  ONBOARDING_API_KEY   the ops key (or a partner key); never passed as a flag

Exit codes:
  0 ok   1 API error   2 usage error   3 not found   4 conflict
  5 cannot reach the API   6 no key or key refused (401/403)
  7 tenants drift: the tenant has drifted`,
    );
  // Subcommands created after this point inherit exitOverride and the output streams.
  const ctx = createCommandContext(io, state);
  registerTenantCommands(program, ctx);
  registerPermissionsScript(program, ctx);
  registerDoctor(program, ctx);
  registerWebhookCommands(program, ctx);
  registerPartnerCommands(program, ctx);
  return program;
}
