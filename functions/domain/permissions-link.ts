/**
 * The customer's admin sets least privilege up with their own sign-in after the first consent
 * page: for a tenant bound to the partner and waiting in `awaiting_permissions` (the admin chose
 * the script and has no PowerShell at hand, or the setup at consent could not finish), the
 * tenant's `consentUrl` is the partner's link to the consent callback, its signed state naming
 * the partner and the tenant with the purpose `permissions` (as long-lived as a consent link,
 * renewed on every read of the tenant). The callback shows the page, the admin signs in (the
 * same checks as for binding: consent-flow.ts), the setup runs as the admin, and the tenant is
 * retried: check-access runs again, and passes or waits again with what is still missing.
 *
 * It never binds. A link whose partner does not hold the tenant (another partner's, a tenant
 * that moved) or a tenant no longer waiting for permissions does nothing, and shows one page for
 * all of these cases, so that it reveals nothing.
 */
import type { ConsentLinks } from "./binding.ts";
import type { ChangeLogStore } from "./change-log.ts";
import { ConflictError } from "./errors.ts";
import { type AdminExchangeAccess, type SetupSummary, setUpBeforeRun } from "./least-privilege-consent.ts";
import type { Principal, StoredTenant, TenantStore } from "./store.ts";

/** What the link's sign-in did: the setup's summary, or nothing at all (`permissions-not-needed`). */
export type PermissionsOutcome =
  | { kind: "permissions-set"; tenantId: string; setup: Exclude<SetupSummary, "script"> }
  | { kind: "permissions-not-needed" };

/** The link for a tenant in `awaiting_permissions`; undefined when the service has no admin sign-in. */
export function permissionsLinkUrl(
  links: ConsentLinks,
  tenant: { partnerId: string; tenantId: string },
  now: Date,
): string | undefined {
  if (!links.signIn || !links.browser) return undefined;
  const url = new URL(links.redirectUri);
  const state = { partnerId: tenant.partnerId, tenantId: tenant.tenantId, purpose: "permissions" as const };
  url.searchParams.set("state", links.signer.sign(state, now));
  return url.toString();
}

export interface PermissionsPorts {
  store: Pick<TenantStore, "getTenant" | "transition">;
  links?: ConsentLinks | undefined;
  changeLog?: ChangeLogStore | undefined;
  /** The tenant's retry (its lifecycle), as its partner. */
  resume: { retry(principal: Principal, tenantId: string): Promise<unknown> };
  now: () => string;
}

/** The tenant, when it is bound to this partner and waits for permissions; else undefined. */
export async function waitingForPermissions(
  ports: Pick<PermissionsPorts, "store">,
  partnerId: string,
  tenantId: string,
): Promise<StoredTenant | undefined> {
  const stored = await ports.store.getTenant(tenantId, { partnerId, groups: false });
  const waiting = stored?.tenant.partnerId === partnerId && stored.tenant.status === "awaiting_permissions";
  return waiting ? stored : undefined;
}

/**
 * After the admin's sign-in through the link: the setup as the admin (nothing without their
 * Exchange access), then a retry of the tenant. Checked again here, since the tenant may have
 * moved or gone on between the page and the sign-in.
 */
export async function setUpPermissions(
  ports: PermissionsPorts,
  partnerId: string,
  tenantId: string,
  admin: AdminExchangeAccess | undefined,
): Promise<PermissionsOutcome> {
  const stored = await waitingForPermissions(ports, partnerId, tenantId);
  if (!stored) return { kind: "permissions-not-needed" };
  // The setup as the admin; nothing without their Exchange access (declined on the sign-in).
  const { links, changeLog } = ports;
  const { setup = "declined" } = await setUpBeforeRun(admin, stored, {
    store: ports.store,
    now: ports.now,
    expectStatus: ["awaiting_permissions"],
    ...(links && { links }),
    ...(changeLog && { changeLog }),
  });
  if (setup === "declined" || setup === "script")
    return { kind: "permissions-set", tenantId, setup: "declined" };
  // check-access runs again: it passes, or the tenant waits again with what is still missing.
  await ports.resume.retry({ role: "partner", partnerId }, tenantId).catch((err: unknown) => {
    // Retried meanwhile (by the partner, or its own re-check went on): nothing more to do.
    if (!(err instanceof ConflictError)) throw err;
  });
  return { kind: "permissions-set", tenantId, setup };
}
