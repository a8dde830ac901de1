/** The `tenants` group: its commands in the order `--help` lists them. */
import type { Command } from "commander";
import type { CommandContext } from "../context.ts";
import { registerTenantsDrift } from "./tenants-drift.ts";
import { registerTenantsChanges, registerTenantsEvents } from "./tenants-history.ts";
import { registerImportExport } from "./tenants-import.ts";
import { registerTenantsList } from "./tenants-list.ts";
import { registerTenantsOffboard } from "./tenants-offboard.ts";
import { registerTenantsRetry } from "./tenants-retry.ts";
import { registerTenantsShow } from "./tenants-show.ts";

export function registerTenantCommands(program: Command, ctx: CommandContext): void {
  const tenants = program
    .command("tenants")
    .description("List, inspect, retry and offboard tenants; import and export them in bulk");
  registerTenantsList(tenants, ctx);
  registerTenantsShow(tenants, ctx);
  registerTenantsRetry(tenants, ctx);
  registerTenantsOffboard(tenants, ctx);
  registerTenantsEvents(tenants, ctx);
  registerTenantsDrift(tenants, ctx);
  registerTenantsChanges(tenants, ctx);
  registerImportExport(tenants, ctx);
}
