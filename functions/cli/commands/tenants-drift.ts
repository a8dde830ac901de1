/**
 * `tenants drift`, `tenants plan` and `tenants approve`: keeping a tenant configured. `drift`
 * exits with ExitCode.Drift when the tenant has drifted, so that a script or a monitor can
 * alert on the exit code alone.
 */
import type { Command } from "commander";
import { parseGuid } from "../args.ts";
import type { TenantResource } from "../client.ts";
import type { CommandContext } from "../context.ts";
import { ExitCode } from "../errors.ts";
import { clean, table, time } from "../format.ts";

export function registerTenantsDrift(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("drift")
    .description(
      "The latest drift check of a tenant (exit code 7 when it drifted); --check checks it now first",
    )
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .option("--check", "start a drift check now (read-only) and wait for its result")
    .action(async (tenantId: string, opts: { check?: boolean }, cmd: Command) => {
      const api = ctx.client();
      let drift = await api.getDrift(tenantId);
      if (opts.check) {
        const before = drift.checkedAt;
        await api.checkDrift(tenantId);
        for (let i = 0; i < 600 && drift.checkedAt === before; i++) {
          await new Promise((r) => setTimeout(r, 200));
          drift = await api.getDrift(tenantId);
        }
      }
      if (drift.checkedAt !== null && !drift.inSync) ctx.state.exitCode = ExitCode.Drift;
      if (ctx.json(cmd)) return ctx.printJson(drift);
      if (drift.checkedAt === null) {
        return ctx.out(`Not checked yet (npx onboarding tenants drift ${tenantId} --check).`);
      }
      const remediation =
        drift.remediation === "started"
          ? " A remediation run was started."
          : drift.remediation === "daily_limit_reached"
            ? " Remediations for today are used up: reported only."
            : "";
      ctx.out(`Checked ${time(drift.checkedAt)}: ${drift.inSync ? "in sync" : "DRIFT"}.${remediation}`);
      if (drift.differences.length > 0)
        ctx.out(
          table(drift.differences, [
            { header: "STEP", value: (d) => d.step },
            { header: "OBJECT", value: (d) => d.object },
            { header: "FIELD", value: (d) => d.field },
            { header: "EXPECTED", value: (d) => JSON.stringify(d.expected) },
            { header: "ACTUAL", value: (d) => JSON.stringify(d.actual) },
          ]),
        );
    });

  tenants
    .command("plan")
    .description("The writes a tenant awaiting approval would make, in order, and why")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .action(async (tenantId: string, _opts: unknown, cmd: Command) => {
      const tenant = await ctx.client().getTenant(tenantId);
      if (ctx.json(cmd)) return ctx.printJson(tenant.plan ?? []);
      if (!tenant.plan) return ctx.out(`Tenant ${tenant.tenantId} is ${tenant.status}: no plan to approve.`);
      ctx.out(renderPlan(tenant.plan));
      ctx.out(`Approve with: npx onboarding tenants approve ${tenant.tenantId}`);
    });

  tenants
    .command("approve")
    .description("Approve the plan of a tenant awaiting approval: exactly its writes are applied")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .action(async (tenantId: string, _opts: unknown, cmd: Command) => {
      const tenant = await ctx.client().approveTenant(tenantId);
      if (ctx.json(cmd)) return ctx.printJson(tenant);
      ctx.out(`Plan approved: tenant ${tenant.tenantId} is ${tenant.status}.`);
    });
}

type PlannedWrite = NonNullable<TenantResource["plan"]>[number];

/**
 * A plan for people: a table of the writes (number, step, cmdlet, why), then each write's
 * parameters one per line, so that no line is wider than its longest value.
 */
export function renderPlan(plan: readonly PlannedWrite[]): string {
  const rows = plan.map((w, i) => ({ ...w, n: i + 1 }));
  const summary = table(rows, [
    { header: "#", value: (w) => w.n },
    { header: "STEP", value: (w) => w.step },
    { header: "CMDLET", value: (w) => w.cmdlet },
    { header: "REASON", value: (w) => w.reason },
  ]);
  const details = rows.map((w) => {
    const params = Object.entries(w.parameters ?? {}).map(([k, v]) => `    -${k} ${clean(valueText(v))}`);
    return [`${w.n}. ${w.cmdlet}`, ...params].join("\n");
  });
  return `${summary}\n\n${details.join("\n")}`;
}

function valueText(value: unknown): string {
  if (Array.isArray(value)) return value.map(valueText).join(", ");
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
