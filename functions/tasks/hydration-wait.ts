/**
 * How long a step waits for Exchange to apply Enable-OrganizationCustomization. Microsoft's
 * admin help says to wait 60 minutes; vendors see an hour to two days, and `IsDehydrated` may
 * already read false while writes still fail. The workflow retries the step (its Retry policy
 * waits in Step Functions, holding no Lambda) for 48 hours from the call.
 */
import { OrganizationHydratingError } from "../domain/errors.ts";

export const HYDRATION_WAIT_HOURS = 48;
export const HYDRATION_WAIT_MS = HYDRATION_WAIT_HOURS * 3_600_000;
/**
 * A claim on the call (recorded before it is sent) stands this long: within it the cmdlet is
 * never sent again. Longer than the wait, so that no retry of it re-sends it.
 */
export const HYDRATION_CLAIM_MS = HYDRATION_WAIT_MS + 60 * 60_000;

/** The error a step refused as dehydrated ends with, once the cmdlet has been run at `enabledAt`. */
export function hydratingError(enabledAt: string, cause: unknown): OrganizationHydratingError {
  const until = new Date(Date.parse(enabledAt) + HYDRATION_WAIT_MS).toISOString();
  return new OrganizationHydratingError(
    `Exchange refused a change because the organization was dehydrated; Enable-OrganizationCustomization was run at ${enabledAt} and can take up to ${HYDRATION_WAIT_HOURS} hours to apply. The step is retried until ${until}.`,
    until,
    { cause },
  );
}

/** The step's `waitingUntil` while the workflow waits to retry it (only for a hydrating organisation). */
export function waitingPatch(err: unknown): { waitingUntil?: string } {
  return err instanceof OrganizationHydratingError && err.waitingUntil
    ? { waitingUntil: err.waitingUntil }
    : {};
}
