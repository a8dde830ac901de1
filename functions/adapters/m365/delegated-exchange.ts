/**
 * Exchange's admin API as the customer's signed-in admin: the same InvokeCommand request core as
 * the app's calls (errors, retries, paging, the nextLink guard), with the admin's delegated
 * access token given for this one use instead of the app's credential, and the `UPN:` anchor of
 * a user's calls. The token lives only in the returned function's closure: it is never cached,
 * stored or logged, and is gone when the caller drops the runner (the end of the request).
 */
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
  return (cmdlet, parameters) => client.invoke(options.tenantId, cmdlet, parameters);
}
