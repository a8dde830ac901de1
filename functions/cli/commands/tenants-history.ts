/**
 * `tenants events` (the tenant's event history, oldest first: what webhooks deliver) and
 * `tenants changes` (its audit trail: every write made in its Microsoft 365, newest first).
 */
import type { Command } from "commander";
import { parseGuid } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { errorText, time } from "../format.ts";
import { type ListOptions, limitOption, pageOrAll, printPage } from "../paging.ts";

export function registerTenantsEvents(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("events")
    .description("The tenant's event history, oldest first (the events webhooks deliver)")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .addOption(limitOption("events").default(100, "100"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (tenantId: string, opts: ListOptions, cmd: Command) => {
      const api = ctx.client();
      const page = await pageOrAll(opts, (q) => api.listEvents(tenantId, q));
      printPage(ctx, cmd, page, {
        empty: "No events.",
        command: `tenants events ${tenantId}`,
        columns: [
          { header: "TIME", value: (e) => time(e.timestamp) },
          { header: "SEQ", value: (e) => e.data.sequence },
          { header: "TYPE", value: (e) => e.type },
          { header: "STEP", value: (e) => e.data.step },
          { header: "STATUS", value: (e) => e.data.status },
          { header: "ERROR", value: (e) => errorText(e.data.error) },
        ],
      });
    });
}

export function registerTenantsChanges(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("changes")
    .description("The tenant's audit trail: every write made in its Microsoft 365, newest first")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .addOption(limitOption("changes").default(20, "20"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (tenantId: string, opts: ListOptions, cmd: Command) => {
      const api = ctx.client();
      const page = await pageOrAll(opts, (q) => api.listChanges(tenantId, q));
      printPage(ctx, cmd, page, {
        empty: "No changes.",
        command: `tenants changes ${tenantId}`,
        columns: [
          { header: "TIME", value: (c) => time(c.at) },
          { header: "RUN", value: (c) => c.run },
          { header: "STEP", value: (c) => c.step },
          { header: "CMDLET", value: (c) => c.cmdlet },
          { header: "OUTCOME", value: (c) => (c.errorCode ? `error ${c.errorCode}` : c.outcome) },
          { header: "BY", value: (c) => c.requestedBy },
        ],
      });
    });
}
