/**
 * The least-privilege setup as the consent callback runs it: right after the tenant is bound and
 * before its onboarding starts, with the customer's admin's own access (their sign-in), every
 * write recorded in the tenant's audit trail as made by the admin (`actor: customer-admin`).
 * Whatever the outcome, the onboarding then starts as usual: when the app's role group is not
 * complete (the setup failed, or stopped while Exchange hydrates the organisation), check-access
 * finds the missing roles and the tenant waits in `awaiting_permissions` with the script; an app
 * that holds the roles otherwise (Exchange Administrator) goes on, waiting for the hydration.
 */
import { randomUUID } from "node:crypto";
import type { ChangeLogStore } from "./change-log.ts";
import { ConflictError, toErrorInfo } from "./errors.ts";
import {
  type AdminCmdletRunner,
  type LeastPrivilegeOutcome,
  setUpLeastPrivilege,
} from "./least-privilege-setup.ts";
import type { Json } from "./plan.ts";
import type { StoredTenant, TenantStore } from "./store.ts";
import type { TenantStatus } from "./tenant.ts";

/**
 * What the admin's sign-in hands over for the setup: a runner of cmdlets as the admin (their
 * delegated token stays inside it) and the app's service principal in the tenant.
 */
export interface AdminExchangeAccess {
  run: AdminCmdletRunner;
  servicePrincipalId: string;
}

/**
 * The admin's choice on the consent page: `setup` (the default: the sign-in also asks for
 * Exchange, and the setup runs) or `script` (the admin will run the permissions script).
 */
export type LeastPrivilegeChoice = "setup" | "script";

/** What the page tells the admin about the setup (`script`: they chose to run the script). */
export type SetupSummary = "done" | "hydration-pending" | "failed" | "declined" | "script";

export interface ConsentSetupContext {
  access: AdminExchangeAccess;
  appId: string;
  tenant: StoredTenant;
  changeLog?: ChangeLogStore;
  now: () => string;
}

/** Runs the setup as the admin, recording each write; never throws. */
export async function setUpAtConsent(ctx: ConsentSetupContext): Promise<LeastPrivilegeOutcome> {
  const { tenant } = ctx.tenant;
  const record = async (
    cmdlet: string,
    parameters: Record<string, unknown>,
    outcome: "ok" | "error",
    errorCode?: string,
  ) => {
    try {
      await ctx.changeLog?.record({
        changeId: randomUUID(),
        tenantId: tenant.tenantId,
        at: ctx.now(),
        run: ctx.tenant.internals.run,
        step: "check-access",
        cmdlet,
        parameters: parameters as Record<string, Json>,
        outcome,
        ...(errorCode ? { errorCode } : {}),
        requestedBy: ctx.tenant.internals.requestedBy ?? "partner",
        actor: "customer-admin",
      });
    } catch {
      // The audit trail must never change what happened in the tenant.
    }
  };
  const recorded: AdminCmdletRunner = async (cmdlet, parameters) => {
    if (/^Get-/i.test(cmdlet)) return ctx.access.run(cmdlet, parameters);
    try {
      const rows = await ctx.access.run(cmdlet, parameters);
      await record(cmdlet, parameters, "ok");
      return rows;
    } catch (err) {
      await record(cmdlet, parameters, "error", toErrorInfo(err).code);
      throw err;
    }
  };
  return setUpLeastPrivilege(recorded, {
    appId: ctx.appId,
    servicePrincipalId: ctx.access.servicePrincipalId,
    request: tenant,
  });
}

/** What the least-privilege setup made of the admin's sign-in. */
export const SETUP_TEXT: Readonly<Record<SetupSummary, string>> = {
  done: "With your sign-in, the provider's app now holds only the Exchange roles it needs (role group Journal Onboarding Service); it needs no administrator role.",
  "hydration-pending":
    "Exchange Online is still preparing your organisation for custom roles; your provider will send you a short PowerShell script to finish the app's least-privilege roles once it is ready.",
  failed:
    "The app's least-privilege roles could not be set up with your sign-in (it needs an Exchange Administrator or Global Administrator); your provider will send you a short PowerShell script to do it.",
  declined:
    "You did not allow Exchange management during the sign-in; your provider will send you a short PowerShell script to give the app its least-privilege roles.",
  script:
    "You chose to run the permissions script: your provider will send you a short PowerShell script to give the app its least-privilege roles.",
};

/**
 * After a setup that stopped for hydration, the admin's Enable-OrganizationCustomization is
 * recorded as the tenant's one run of it: the onboarding's steps then wait for Exchange to apply
 * it (as after their own run) instead of running it again. Nothing when the tenant moved meanwhile
 * (left `expectStatus`: `queued` at consent, `awaiting_permissions` for the later link).
 */
export async function recordCustomizationRun(
  store: Pick<TenantStore, "transition">,
  stored: StoredTenant,
  now: string,
  expectStatus: readonly TenantStatus[] = ["queued"],
): Promise<void> {
  try {
    await store.transition(
      stored.tenant.tenantId,
      { expectStatus, expectRun: stored.internals.run, customizationEnabledAt: now },
      now,
    );
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
}

/**
 * What the consent callback runs between binding and the first run: the setup as the admin (when
 * their sign-in gave Exchange access), then, when it stopped for hydration, the admin's run of
 * Enable-OrganizationCustomization recorded as the tenant's.
 */
export async function setUpBeforeRun(
  admin: AdminExchangeAccess | undefined,
  stored: StoredTenant,
  deps: {
    store: Pick<TenantStore, "transition">;
    now: () => string;
    links?: { signIn?: { clientId: string } };
    changeLog?: ChangeLogStore;
    /** The tenant's status the customization's record expects. @default ["queued"] */
    expectStatus?: readonly TenantStatus[];
  },
): Promise<{ setup?: SetupSummary }> {
  const appId = deps.links?.signIn?.clientId;
  if (!admin || !appId) return {};
  const outcome = await setUpAtConsent({
    access: admin,
    appId,
    tenant: stored,
    now: deps.now,
    ...(deps.changeLog && { changeLog: deps.changeLog }),
  });
  if (outcome.kind === "hydration-pending") {
    await recordCustomizationRun(deps.store, stored, deps.now(), deps.expectStatus);
  }
  return { setup: outcome.kind };
}
