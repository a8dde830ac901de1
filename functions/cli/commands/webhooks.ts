/** `webhooks deliveries` (delivery attempts, newest first) and `webhooks replay` (send one again). */
import type { Command } from "commander";
import { parseDeliveryId, parseGuid } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { errorText, time } from "../format.ts";
import { type ListOptions, limitOption, pageOrAll, printPage } from "../paging.ts";

export function registerWebhookCommands(program: Command, ctx: CommandContext): void {
  const webhooks = program.command("webhooks").description("Webhook deliveries and their replay");

  webhooks
    .command("deliveries")
    .description("Delivery attempts, newest first")
    .addOption(limitOption("deliveries").default(20, "20"))
    .option("--tenant <tenantId>", "only this tenant's deliveries", parseGuid)
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (opts: ListOptions & { tenant?: string }, cmd: Command) => {
      const api = ctx.client();
      const filter = opts.tenant ? { tenantId: opts.tenant } : {};
      const page = await pageOrAll(opts, (q) => api.listDeliveries({ ...filter, ...q }));
      printPage(ctx, cmd, page, {
        empty: "No deliveries.",
        command: "webhooks deliveries",
        columns: [
          { header: "DELIVERY ID", value: (d) => d.deliveryId },
          { header: "TENANT ID", value: (d) => d.tenantId },
          { header: "TYPE", value: (d) => d.type },
          { header: "STATUS", value: (d) => d.status },
          { header: "ATTEMPTS", value: (d) => d.attempts },
          { header: "HTTP", value: (d) => d.lastResponseStatus },
          { header: "CREATED", value: (d) => time(d.createdAt) },
          { header: "ERROR", value: (d) => errorText(d.error) },
        ],
      });
    });

  webhooks
    .command("replay")
    .description("Send a delivery's event again")
    .argument("<deliveryId>", "from `webhooks deliveries`", parseDeliveryId)
    .action(async (deliveryId: string, _opts: unknown, cmd: Command) => {
      const delivery = await ctx.client().replayDelivery(deliveryId);
      if (ctx.json(cmd)) return ctx.printJson(delivery);
      ctx.out(
        `Replay queued: ${delivery.type} for tenant ${delivery.tenantId} (delivery ${delivery.deliveryId}).`,
      );
    });
}
