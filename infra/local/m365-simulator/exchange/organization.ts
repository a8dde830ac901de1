/**
 * The organisation: Get-OrganizationConfig, Enable-OrganizationCustomization and dehydration
 * (writes refused until customization is enabled and, with `hydrationDelayMs`, has completed).
 */
import type { TenantState } from "../state.ts";
import { type CmdletContext, type CmdletDefinition, CmdletError, EXCEPTION, type Row } from "./invoke.ts";

/**
 * Whether the organisation is still dehydrated at `nowMs`: dehydrated and either never
 * customised or its customization (hydration) still in progress. Completes it when due.
 */
export function isDehydrated(state: TenantState, nowMs: number): boolean {
  if (state.dehydrated && typeof state.hydratingUntil === "number" && nowMs >= state.hydratingUntil) {
    state.dehydrated = false;
    state.hydratingUntil = null;
  }
  return state.dehydrated;
}

/** Whether Enable-OrganizationCustomization has been run (hydration done or under way). */
const customizationRequested = (state: TenantState) =>
  !state.dehydrated || typeof state.hydratingUntil === "number";

/**
 * Writes in a dehydrated organisation. Text: Microsoft's support article "Unable to enable unified
 * auditing" (MicrosoftDocs/OfficeDocs-Support; the same text is reported for New-ManagementScope
 * while IsDehydrated already reads False). Class InvalidOperationInDehydratedContextException and
 * status 400: assumed (the article shows a 500 from the admin center's API).
 */
export function dehydratedError(): CmdletError {
  return new CmdletError(
    400,
    EXCEPTION.DEHYDRATED,
    "The command you tried to run isn't currently allowed in your organization. To run this command, you first need to run the command: Enable-OrganizationCustomization.",
    "ExBA8FEF",
  );
}

const getOrganizationConfig = ({ state, nowMs }: CmdletContext): Row[] => [
  {
    Identity: state.domain,
    Name: state.domain,
    DisplayName: state.displayName,
    // Source: Enable-OrganizationCustomization.md (IsDehydrated True until customization is
    // enabled). It reads False as soon as the cmdlet ran, while writes may still be refused until
    // hydration completes (a public report: IsDehydrated=False, writes still asking for it).
    IsDehydrated: isDehydrated(state, nowMs) && !customizationRequested(state),
    Guid: state.tenantId,
  },
];

/**
 * Source: Enable-OrganizationCustomization.md ("You are only required to run this cmdlet once
 * ... If you attempt to run the cmdlet again, you get an error"); the error's class and text:
 * assumed. With `hydrationDelayMs`, the organisation stays dehydrated (writes refused,
 * IsDehydrated true) for that long after the first call (assumed: "minutes to hours"; docs/m365-fidelity.md, D3);
 * a second call while hydrating gets the same "already enabled" error (assumed).
 */
const enableOrganizationCustomization = ({ state, behaviours, nowMs }: CmdletContext): Row[] => {
  isDehydrated(state, nowMs);
  if (customizationRequested(state)) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Management.Deployment.OrganizationCustomizationAlreadyEnabledException",
      "This operation is not required. Organization is already enabled for customization.",
      "Ex49D38F",
    );
  }
  if (behaviours.hydrationDelayMs > 0) state.hydratingUntil = nowMs + behaviours.hydrationDelayMs;
  else state.dehydrated = false;
  return [];
};

// Source: SYNTAX of Get-OrganizationConfig.md and Enable-OrganizationCustomization.md.
export const ORGANIZATION_CMDLETS: CmdletDefinition[] = [
  {
    name: "Get-OrganizationConfig",
    parameters: [],
    shouldProcess: false,
    run: getOrganizationConfig,
  },
  {
    name: "Enable-OrganizationCustomization",
    parameters: [],
    shouldProcess: true,
    run: enableOrganizationCustomization,
  },
];
