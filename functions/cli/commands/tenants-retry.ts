/**
 * `tenants retry`: one tenant, or with `--all-failed` every failed tenant with bounded
 * concurrency (a tenant no longer failed is skipped, not an error).
 */
import { type Command, Option } from "commander";
import { intIn, parseGuid } from "../args.ts";
import type { OnboardingClient, TenantResource } from "../client.ts";
import type { CliIo, CommandContext } from "../context.ts";
import { ApiProblemError, CliError, ExitCode, UsageError } from "../errors.ts";
import { clean, ProgressBar } from "../format.ts";

export interface RetrySummary {
  retried: string[];
  skipped: { tenantId: string; reason: string }[];
  errors: { tenantId: string; status?: number; message: string }[];
}

interface RetryOptions {
  allFailed?: boolean;
  partner?: string;
  concurrency: number;
}

export function registerTenantsRetry(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("retry")
    .description("Retry a failed (or awaiting_consent/awaiting_permissions) tenant, or every failed tenant")
    .argument("[tenantId]", "the Entra tenant id (GUID)", parseGuid)
    .option("--all-failed", "retry every tenant whose status is failed")
    .option("--partner <partnerId>", "with --all-failed: only this partner's tenants (ops)")
    .addOption(
      new Option("--concurrency <n>", "with --all-failed: retries in flight, 1-16")
        .argParser(intIn(1, 16))
        .default(4),
    )
    .action(async (tenantId: string | undefined, opts: RetryOptions, cmd: Command) => {
      if (Boolean(tenantId) === Boolean(opts.allFailed)) {
        throw new UsageError("Give either a tenant id or --all-failed.");
      }
      const api = ctx.client();
      if (tenantId) {
        const tenant = await api.retryTenant(tenantId);
        if (ctx.json(cmd)) return ctx.printJson(tenant);
        return ctx.out(`Retry started: tenant ${tenant.tenantId} is ${tenant.status}.`);
      }
      const failed: TenantResource[] = [];
      for await (const t of api.allTenants({
        status: "failed",
        ...(opts.partner && { partnerId: opts.partner }),
      })) {
        failed.push(t);
      }
      const summary = await retryAll(api, failed, opts.concurrency, ctx.io);
      if (summary.errors.length > 0) ctx.state.exitCode = ExitCode.ApiError;
      if (ctx.json(cmd)) return ctx.printJson(summary);
      for (const s of summary.skipped) ctx.out(`skipped  ${s.tenantId}  ${clean(s.reason)}`);
      for (const e of summary.errors) ctx.out(`error    ${e.tenantId}  ${clean(e.message)}`);
      ctx.out(
        `retried ${summary.retried.length}, skipped ${summary.skipped.length}, errors ${summary.errors.length}`,
      );
    });
}

/** Retries each tenant with bounded concurrency; a 409 (no longer failed) is a skip, not an error. */
async function retryAll(
  api: OnboardingClient,
  tenants: readonly TenantResource[],
  concurrency: number,
  io: CliIo,
): Promise<RetrySummary> {
  const summary: RetrySummary = { retried: [], skipped: [], errors: [] };
  if (tenants.length === 0) return summary;
  const bar = new ProgressBar(io.stderr, tenants.length, io.stderrIsTty);
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const { tenantId } = tenants[next++]!;
      try {
        await api.retryTenant(tenantId);
        summary.retried.push(tenantId);
      } catch (err) {
        if (err instanceof ApiProblemError && (err.status === 409 || err.status === 404)) {
          summary.skipped.push({ tenantId, reason: err.message });
        } else if (err instanceof CliError && err.exitCode === ExitCode.Auth) {
          throw err; // every further call would be refused the same way
        } else {
          summary.errors.push({
            tenantId,
            ...(err instanceof ApiProblemError && { status: err.status }),
            message: (err as Error).message,
          });
        }
      }
      bar.tick(tenantId);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tenants.length) }, worker));
  } finally {
    bar.finish();
  }
  return summary;
}
