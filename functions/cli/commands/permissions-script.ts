/** `permissions-script`: the PowerShell a customer's admin runs once to give the app least privilege. */
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { parseGuid } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { clean } from "../format.ts";

export function registerPermissionsScript(program: Command, ctx: CommandContext): void {
  program
    .command("permissions-script")
    .description(
      "The PowerShell a customer's admin runs once to give the app least privilege (instead of Exchange Administrator)",
    )
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .option("--out <file>", "write it to this file (e.g. grant.ps1) instead of stdout")
    .action(async (tenantId: string, opts: { out?: string }) => {
      const script = await ctx.client().permissionsScript(tenantId);
      if (!opts.out) return ctx.out(script);
      await writeFile(opts.out, script, { mode: 0o644 });
      ctx.io.stderr.write(`Wrote ${clean(opts.out)}: have the customer's admin run it in PowerShell 7.\n`);
    });
}
