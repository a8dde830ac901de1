/**
 * Exchange's admin API as the customer's signed-in admin: the same InvokeCommand request core as
 * the app's calls (errors, retries, paging, the nextLink guard), with the admin's delegated
 * access token given for this one use instead of the app's credential, and the `UPN:` anchor of
 * a user's calls. The token lives only in the returned function's closure: it is never cached,
 * stored or logged, and is gone when the caller drops the runner (the end of the request).
 */
import { TransientError } from "../../domain/errors.ts";
import type { AdminCmdletRunner } from "../../domain/least-privilege-setup.ts";
import { ExchangeClient } from "./exchange-client.ts";
import { type RetryOptions, RetryPolicy } from "./retry.ts";

export interface DelegatedExchangeOptions {
  /** e.g. `https://outlook.office365.com`. */
  endpoint: string;
  tenantId: string;
  /** The admin's delegated access token for Exchange (`Exchange.Manage`). */
  accessToken: string;
  retry?: RetryOptions;
  fetch?: typeof fetch;
  /**
   * The whole setup's time, from the runner's creation: it runs inside the consent callback's
   * request (the API function has 25 s), so once spent every further call fails at once and the
   * setup ends with what it has (the script finishes it). @default 15000
   */
  budgetMs?: number;
}

/** A runner of cmdlets in `tenantId` as the signed-in admin. */
export function delegatedExchange(options: DelegatedExchangeOptions): AdminCmdletRunner {
  const token = options.accessToken;
  const client = new ExchangeClient({
    endpoint: options.endpoint,
    anchor: "UPN",
    // The one token given: nothing to renew (a refused token is the admin's refusal).
    tokens: { getToken: async () => token, invalidate: () => {} },
    retry: new RetryPolicy({ maxAttempts: 3, ...options.retry }),
    maxConcurrentPerTenant: 1,
    ...(options.fetch && { fetch: options.fetch }),
  });
  const deadline = Date.now() + (options.budgetMs ?? 15_000);
  return (cmdlet, parameters) => {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new TransientError(`${cmdlet}: the setup's time is spent`));
    // A write is not sent again after an uncertain failure: the next run's reads decide.
    const write = !/^Get-/i.test(cmdlet);
    return client.invoke(options.tenantId, cmdlet, parameters, {
      timeoutMs: Math.min(left, 10_000),
      ...(write && { resend: "if-not-processed" as const }),
    });
  };
}
