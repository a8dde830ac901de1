/** `tenants show`: one tenant with its steps, and what to do next when it can be retried. */
import type { Command } from "commander";
import type { TenantStatus } from "../../domain/tenant.ts";
import { parseGuid } from "../args.ts";
import type { TenantResource } from "../client.ts";
import type { CommandContext } from "../context.ts";
import { duration, errorText, fields, table, time } from "../format.ts";

const RETRYABLE: readonly TenantStatus[] = ["failed", "awaiting_consent", "awaiting_permissions"];

export function registerTenantsShow(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("show")
    .description("One tenant: its steps with status, attempts, timings and errors")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .action(async (tenantId: string, _opts: unknown, cmd: Command) => {
      const tenant = await ctx.client().getTenant(tenantId);
      if (ctx.json(cmd)) return ctx.printJson(tenant);
      ctx.out(renderTenant(tenant));
    });
}

function renderTenant(t: TenantResource): string {
  const head = fields([
    ["Tenant", t.tenantId],
    ["Customer", t.customerName],
    ["Partner", t.partnerId],
    ["Region", `${t.region}${t.outboundGateway ? " (outbound gateway)" : ""}`],
    [
      "NDR address",
      t.ndrAddressKept
        ? `${t.ndrAddress} (kept after offboarding: Exchange refused to clear it)`
        : t.ndrAddress,
    ],
    ["Status", t.status],
    ["Error", errorText(t.error)],
    ["Consent URL", t.consentUrl],
    ["Missing permissions", t.missingPermissions?.map((m) => `${m.cmdlet} (${m.role})`).join(", ")],
    ["Created", time(t.createdAt)],
    ["Updated", time(t.updatedAt)],
  ]);
  const steps = table(t.steps, [
    { header: "STEP", value: (s) => s.name },
    { header: "STATUS", value: (s) => s.status },
    { header: "ATTEMPTS", value: (s) => s.attempts },
    { header: "STARTED", value: (s) => time(s.startedAt) },
    { header: "DURATION", value: (s) => duration(s.startedAt, s.finishedAt) },
    // A running step that adds members in batches shows where it stands instead.
    { header: "ERROR", value: (s) => (s.error || !s.progress ? errorText(s.error) : s.progress) },
  ]);
  const code = t.error?.code;
  const fix = code ? `\nWhat ${code} means and how to fix it: GET /v1/errors (docs/errors.md#${code}).` : "";
  const link = t.consentUrl
    ? "the Consent URL above (they set least privilege up with their sign-in; the tenant is then retried by itself), or "
    : "";
  const script =
    t.status === "awaiting_permissions"
      ? `\nSend the customer's admin ${link}the script to run once in PowerShell 7: npx onboarding permissions-script ${t.tenantId} --out grant.ps1`
      : "";
  const hint = RETRYABLE.includes(t.status)
    ? `\n${fix}${script}\nRetry with: npx onboarding tenants retry ${t.tenantId}`
    : "";
  return `${head}\n\n${steps}${hint}`;
}
