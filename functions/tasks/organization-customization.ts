/**
 * A step's write refused because the organisation is dehydrated gets
 * Enable-OrganizationCustomization once per tenant (recorded, never run again: it cannot be
 * undone), then the step is retried by the workflow with backoff for up to 48 hours while
 * Exchange applies it (OrganizationHydratingError).
 */

import { ConflictError, DehydratedOrganizationError } from "../domain/errors.ts";
import type { StepContext } from "../domain/steps/index.ts";
import type { StoredTenant } from "../domain/store.ts";
import { HYDRATION_CLAIM_MS, hydratingError } from "./hydration-wait.ts";
import type { TaskContext } from "./task-context.ts";

/** Runs a step's `fn`; a dehydrated organisation gets the cmdlet once and the step a hydrating error. */
export async function hydrating<T>(
  ctx: TaskContext,
  stored: StoredTenant,
  step: StepContext,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof DehydratedOrganizationError)) throw err;
    throw hydratingError(await enableCustomizationOnce(ctx, stored, step), err);
  }
}

/**
 * Runs Enable-OrganizationCustomization once per tenant: the step that claims it in the store
 * runs it; concurrent steps that lose the claim do not, and later retries do not while the
 * claim stands. A failed call gives the claim back. A claim older than the hour Exchange may
 * take is replaced (a crash between the claim and the call): the cmdlet answers "already
 * enabled" when it did run, which counts as success. Returns when it was run.
 */
async function enableCustomizationOnce(
  ctx: TaskContext,
  stored: StoredTenant,
  step: StepContext,
): Promise<string> {
  const { load, write } = ctx;
  const { tenantId } = stored.tenant;
  const { run } = stored.internals;
  const current = (await load(tenantId, run)).internals.customizationEnabledAt;
  if (current && Date.now() - Date.parse(current) < HYDRATION_CLAIM_MS) return current;
  const at = ctx.now();
  try {
    await write(tenantId, run, {
      customizationEnabledAt: at,
      ...(current ? { customizationClaimWas: current } : {}),
    });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return (await load(tenantId, run)).internals.customizationEnabledAt ?? at;
  }
  try {
    await step.m365.exchange.enableOrganizationCustomization();
  } catch (err) {
    // Not known to have run: give the claim back so that the workflow's retry sends it again.
    // Sending it twice is harmless (Exchange answers "already enabled", which is success);
    // what must never happen is running it without a refused write, or twice at once.
    await write(tenantId, run, { customizationEnabledAt: null, customizationClaimWas: at }).catch(
      () => undefined,
    );
    throw err;
  }
  return at;
}
