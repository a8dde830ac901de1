/** `tenants list`: tenants newest first, filtered by status or (ops) by partner. */
import { type Command, Option } from "commander";
import { TENANT_STATUSES, type TenantStatus } from "../../domain/tenant.ts";
import type { CommandContext } from "../context.ts";
import { time } from "../format.ts";
import { type ListOptions, limitOption, pageOrAll, printPage } from "../paging.ts";

export function registerTenantsList(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("list")
    .description("List tenants, newest first")
    .addOption(new Option("--status <status>", "only tenants in this status").choices(TENANT_STATUSES))
    .option("--partner <partnerId>", "only this partner's tenants (ops)")
    .addOption(limitOption("tenants").default(20, "20"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page (--limit is then the page size)")
    .action(async (opts: ListOptions & { status?: TenantStatus; partner?: string }, cmd: Command) => {
      const api = ctx.client();
      const filter = {
        ...(opts.status && { status: opts.status }),
        ...(opts.partner && { partnerId: opts.partner }),
      };
      const page = await pageOrAll(opts, (q) => api.listTenants({ ...filter, ...q }));
      printPage(ctx, cmd, page, {
        empty: opts.status ? `No tenants with status ${opts.status}.` : "No tenants.",
        command: "tenants list",
        columns: [
          { header: "TENANT ID", value: (t) => t.tenantId },
          { header: "CUSTOMER", value: (t) => t.customerName },
          { header: "REGION", value: (t) => t.region },
          { header: "STATUS", value: (t) => t.status },
          { header: "PARTNER", value: (t) => t.partnerId },
          { header: "UPDATED", value: (t) => time(t.updatedAt) },
          { header: "ERROR", value: (t) => t.error?.code },
        ],
      });
    });
}
