/** `partners create` (prints the new partner's API key, once) and `partners list` (ops). */
import type { Command } from "commander";
import type { CommandContext } from "../context.ts";
import { clean, time } from "../format.ts";
import { type ListOptions, limitOption, pageOrAll, printPage } from "../paging.ts";

export function registerPartnerCommands(program: Command, ctx: CommandContext): void {
  const partners = program.command("partners").description("Partners and their API keys (ops)");

  partners
    .command("create")
    .description("Create a partner; prints its API key, which cannot be shown again")
    .argument("<name>", "the partner's display name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const partner = await ctx.client().createPartner(name);
      if (ctx.json(cmd)) return ctx.printJson(partner);
      ctx.out(
        [
          `Partner ${partner.partnerId} (${clean(partner.name)}) created.`,
          `API key: ${partner.apiKey}`,
          "Store the key now: it is shown once and cannot be read back.",
        ].join("\n"),
      );
    });

  partners
    .command("list")
    .description("List partners")
    .addOption(limitOption("partners").default(20, "20"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (opts: ListOptions, cmd: Command) => {
      const api = ctx.client();
      const page = await pageOrAll(opts, (q) => api.listPartners(q));
      printPage(ctx, cmd, page, {
        empty: "No partners.",
        command: "partners list",
        columns: [
          { header: "PARTNER ID", value: (p) => p.partnerId },
          { header: "NAME", value: (p) => p.name },
          { header: "CREATED", value: (p) => time(p.createdAt) },
        ],
      });
    });
}
