/**
 * Exchange Online as a signed-in user's app reaches it: the delegated permission `Exchange.Manage`
 * ("Manage Exchange as the signed-in user", Office 365 Exchange Online), the access token the
 * authorization code grant answers with it, and the user's access to InvokeCommand.
 *
 * Sources (docs/m365-fidelity.md A8-A10): with a delegated token, Exchange applies the RBAC roles
 * of the signed-in user (learn.microsoft.com/exchange/reference/admin-api-authentication, "Assign
 * the appropriate RBAC roles to the user (for delegated access)"); the Entra roles Global
 * Administrator and Exchange Administrator are members of Organization Management, which holds
 * Role Management (Microsoft365DSC EXORoleGroup settings.json: update needs Role Management /
 * Organization Management / Exchange Administrator); a user without the roles gets the REST
 * API's `User is not allowed to call <cmdlet>` (MicrosoftDocs/office-docs-powershell issues
 * #7970, #8058). Delegated InvokeCommand calls from a third-party multi-tenant app are anchored
 * `UPN:SystemMailbox{bb558c35-...}@<organisation>` (KelvinTegelaar/CIPP-API New-ExoRequest.ps1).
 */
import type { Access } from "./rbac.ts";

/** The delegated permission's value (id ab4f2b77-0b06-4fc1-a9de-02113fc2ab7c). */
export const EXCHANGE_MANAGE = "Exchange.Manage";

/** Entra role template ids whose holders may run every Exchange cmdlet as themselves. */
export const EXCHANGE_ADMIN_ROLES: Readonly<Record<string, string>> = {
  "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
  "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
};

/** Whether a sign-in's scopes ask for Exchange as the user: `{exchange}/Exchange.Manage` or `{exchange}/.default`. */
export function asksForExchange(scopes: readonly string[], exchangeEndpoint: string): boolean {
  const base = exchangeEndpoint.replace(/\/+$/, "").toLowerCase();
  return scopes.some((s) => {
    const lower = s.toLowerCase();
    return lower === `${base}/${EXCHANGE_MANAGE.toLowerCase()}` || lower === `${base}/.default`;
  });
}

/** The claims a delegated Exchange token carries besides the common ones. */
export interface DelegatedClaims {
  /** Space-separated delegated permissions. */
  scp?: string;
  /** The signed-in user's directory role template ids. */
  wids?: string[];
  oid?: string;
  upn?: string;
}

/** Whether an access token is a user's (delegated) rather than the app's own. */
export function isDelegated(claims: DelegatedClaims): boolean {
  return typeof claims.scp === "string";
}

/**
 * The signed-in user's Exchange access: everything for a Global Administrator or Exchange
 * Administrator, nothing otherwise (Organization Management membership granted in Exchange
 * itself is not modelled). A token without `Exchange.Manage` has no access either.
 */
export function delegatedAccess(claims: DelegatedClaims): Access {
  const scopes = (claims.scp ?? "").split(/\s+/);
  const admin = (claims.wids ?? []).some((id) => Object.hasOwn(EXCHANGE_ADMIN_ROLES, id.toLowerCase()));
  if (scopes.includes(EXCHANGE_MANAGE) && admin) return { all: true };
  return { all: false, roles: new Set() };
}

/** The anchor a delegated call must send (the app-only one starts `APP:`). */
export function delegatedAnchor(systemMailbox: string, tenantId: string): string {
  return `UPN:${systemMailbox}@${tenantId}`;
}
