/** Every cmdlet the simulator knows, and running one against a tenant. */
import type { ExchangeBehaviours } from "../behaviours.ts";
import type { TenantState } from "../state.ts";
import { CONNECTOR_CMDLETS } from "./connectors.ts";
import { DISTRIBUTION_GROUP_CMDLETS } from "./distribution-groups.ts";
import {
  bindParameters,
  bool,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  EXCEPTION,
  isWriteCmdlet,
  type Params,
  type Row,
} from "./invoke.ts";
import { JOURNAL_RULE_CMDLETS } from "./journal-rules.ts";
import { dehydratedError, isDehydrated, ORGANIZATION_CMDLETS } from "./organization.ts";
import { type Access, authorize } from "./rbac.ts";
import { RECIPIENT_CMDLETS } from "./recipients.ts";
import { RBAC_CMDLETS } from "./role-groups.ts";
import { TRANSPORT_CONFIG_CMDLETS } from "./transport-config.ts";

const CMDLETS = new Map<string, CmdletDefinition>(
  [
    ...CONNECTOR_CMDLETS,
    ...TRANSPORT_CONFIG_CMDLETS,
    ...JOURNAL_RULE_CMDLETS,
    ...RECIPIENT_CMDLETS,
    ...DISTRIBUTION_GROUP_CMDLETS,
    ...ORGANIZATION_CMDLETS,
    ...RBAC_CMDLETS,
  ].map((def) => [def.name.toLowerCase(), def]),
);

/** The definition of a cmdlet (case-insensitive), or undefined. */
export function cmdletDefinition(cmdlet: string): CmdletDefinition | undefined {
  return CMDLETS.get(cmdlet.toLowerCase());
}

/** Names of every cmdlet the simulator implements. */
export function cmdletNames(): string[] {
  return [...CMDLETS.values()].map((d) => d.name);
}

export interface RunOptions {
  behaviours: ExchangeBehaviours;
  now?: Date;
  notYetReplicated?: (cmdlet: string, guid: string) => boolean;
  created?: (guid: string) => void;
  /** Receives the warnings the cmdlet gives (the answer's `@adminapi.warnings`). */
  warnings?: string[];
  /** What the caller may run (default: everything). */
  access?: Access;
}

/**
 * Runs one cmdlet against a tenant: binds its parameters, refuses writes in a dehydrated
 * organisation, and returns the rows Exchange would return (PascalCase), or throws
 * {@link CmdletError}.
 */
export function runCmdlet(state: TenantState, cmdlet: string, params: Params, options: RunOptions): Row[] {
  const def = cmdletDefinition(cmdlet);
  if (!def) {
    // Source: PowerShell's CommandNotFoundException text (docs/m365-fidelity.md; REST status assumed).
    throw new CmdletError(
      400,
      EXCEPTION.COMMAND_NOT_FOUND,
      `The term '${cmdlet}' is not recognized as a name of a cmdlet available to this application.`,
    );
  }
  if (options.access) authorize(options.access, def.name, params, options.behaviours);
  const bound = bindParameters(def, params);
  const now = options.now ?? new Date();
  const nowMs = now.getTime();
  if (
    isWriteCmdlet(def.name) &&
    def.name !== "Enable-OrganizationCustomization" &&
    isDehydrated(state, nowMs)
  ) {
    throw dehydratedError();
  }
  // -WhatIf: PowerShell's ShouldProcess answers "what if" and changes nothing.
  if (def.shouldProcess && bool(bound, "WhatIf") === true && isWriteCmdlet(def.name)) return [];
  const ctx: CmdletContext = {
    state,
    params: bound,
    cmdlet: def.name,
    behaviours: options.behaviours,
    now: now.toISOString(),
    nowMs,
    notYetReplicated: (guid) => options.notYetReplicated?.(def.name, guid) ?? false,
    created: (guid) => options.created?.(guid),
    warn: (message) => options.warnings?.push(message),
  };
  try {
    return def.run(ctx);
  } catch (err) {
    const listsAll =
      ctx.behaviours.identityMissReturnsAll && LIST_ON_MISS.has(def.name) && "Identity" in bound;
    if (!(listsAll && err instanceof CmdletError && err.exceptionType === EXCEPTION.NOT_FOUND)) throw err;
    const { Identity: _, ...rest } = bound;
    return def.run({ ...ctx, params: rest });
  }
}

/** Get- cmdlets that list every object without -Identity (behaviour `identityMissReturnsAll`). */
const LIST_ON_MISS = new Set([
  "Get-OutboundConnector",
  "Get-JournalRule",
  "Get-DistributionGroup",
  "Get-Recipient",
]);

export { CmdletError, isWriteCmdlet };
