/** `tenants offboard`: removes what the service configured, after a typed "yes" (or `--yes`). */
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { parseGuid } from "../args.ts";
import type { CliIo, CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";

export function registerTenantsOffboard(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("offboard")
    .description("Remove what the service configured in the tenant and restore its NDR address")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (tenantId: string, opts: { yes?: boolean }, cmd: Command) => {
      const api = ctx.client();
      if (!opts.yes) await confirm(ctx.io, tenantId);
      const tenant = await api.offboardTenant(tenantId);
      if (ctx.json(cmd)) return ctx.printJson(tenant);
      ctx.out(`Offboarding started: tenant ${tenant.tenantId} is ${tenant.status}.`);
    });
}

async function confirm(io: CliIo, tenantId: string): Promise<void> {
  if (!io.stdinIsTty || !io.stdin) {
    throw new UsageError("Offboarding asks for confirmation; pass --yes when not at a terminal.");
  }
  const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream });
  try {
    const answer = await rl.question(
      `Offboard ${tenantId}? This removes the journal rules, groups and connectors the service created. Type "yes": `,
    );
    if (answer.trim().toLowerCase() !== "yes") throw new UsageError("Not confirmed; nothing was changed.");
  } finally {
    rl.close();
  }
}
