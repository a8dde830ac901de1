/**
 * Reading the current state of imported tenants. A row sent again gets the API's first answer
 * back (Idempotency-Key), which says what the tenant was then, not what it is now: every row
 * that was already there is read again before its outcome is reported or written.
 */

import type { RowOutcome } from "./bulk.ts";
import type { OnboardingClient, TenantResource } from "./client.ts";
import { ApiProblemError } from "./errors.ts";

/** Above this many tenants, one list (100 per page) costs fewer requests than one read each. */
const READ_ONE_BY_ONE = 20;

/** Copies a tenant's current status, error and consent link onto its row. */
export function applyTenant(outcome: RowOutcome, tenant: TenantResource): void {
  outcome.tenantStatus = tenant.status;
  outcome.errorCode = tenant.error?.code;
  outcome.errorMessage = tenant.error?.message;
  outcome.consentUrl = tenant.consentUrl;
}

/**
 * Reads the current state of `outcomes`' tenants (few one by one, many through the list) and
 * applies it. A tenant that is gone (404) gets no status; it is returned so that callers stop
 * following it.
 */
export async function readCurrentState(
  api: OnboardingClient,
  outcomes: readonly RowOutcome[],
  concurrency: number,
): Promise<{ gone: RowOutcome[] }> {
  const gone: RowOutcome[] = [];
  if (outcomes.length === 0) return { gone };
  if (outcomes.length > READ_ONE_BY_ONE) {
    const byId = new Map(outcomes.map((o) => [o.tenantId.toLowerCase(), o]));
    for await (const t of api.allTenants({ limit: 100 })) {
      const o = byId.get(t.tenantId.toLowerCase());
      if (o) applyTenant(o, t);
    }
    return { gone };
  }
  let next = 0;
  const worker = async () => {
    while (next < outcomes.length) {
      const o = outcomes[next++]!;
      try {
        applyTenant(o, await api.getTenant(o.tenantId));
      } catch (err) {
        if (!(err instanceof ApiProblemError && err.status === 404)) throw err;
        o.tenantStatus = undefined;
        gone.push(o);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, outcomes.length)) }, worker));
  return { gone };
}
