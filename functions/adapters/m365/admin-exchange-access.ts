/**
 * The admin's Exchange access from their sign-in, for the least-privilege setup: the sign-in
 * asks for the delegated permission `Exchange.Manage` of Office 365 Exchange Online besides
 * `openid profile`, the code's redemption answers an access token for Exchange, and the app's
 * own service principal id in the tenant is read from an app-only token (its `oid` claim).
 *
 * The admin's token goes into the runner's closure and nowhere else: not into the result's
 * claims, not into logs, not into the workflow. The app-only token is read for `oid` and dropped.
 */
import type { AuthenticationResult, ConfidentialClientApplication } from "@azure/msal-node";
import type { AdminExchangeAccess } from "../../domain/least-privilege-consent.ts";
import { delegatedExchange } from "./delegated-exchange.ts";
import type { RetryOptions } from "./retry.ts";

export interface AdminExchangeOptions {
  /** e.g. `https://outlook.office365.com` (the cloud's Exchange endpoint). */
  endpoint: string;
  retry?: RetryOptions;
  fetch?: typeof fetch;
  /** The setup's time budget within the callback's request. @default 15000 */
  budgetMs?: number;
}

/** The delegated permission asked for (docs/m365-fidelity.md A8). */
export const EXCHANGE_MANAGE_SCOPE = "Exchange.Manage";

/** The sign-in's scopes: `openid profile`, plus `{exchange}/Exchange.Manage` when asked for. */
export function scopesOf(exchange: AdminExchangeOptions | undefined, asked: boolean | undefined): string[] {
  const base = ["openid", "profile"];
  if (!exchange || !asked) return base;
  return [...base, `${exchange.endpoint.replace(/\/+$/, "")}/${EXCHANGE_MANAGE_SCOPE}`];
}

/**
 * `admin` when the redemption granted Exchange (the answer's scopes name `Exchange.Manage`),
 * `exchangeDeclined` when it did not; nothing when the app's service principal id cannot be read
 * (the setup is then skipped and the script remains).
 */
export async function adminExchangeAccess(
  client: ConfidentialClientApplication,
  token: AuthenticationResult,
  tenantId: string,
  exchange: AdminExchangeOptions,
): Promise<{ admin?: AdminExchangeAccess; exchangeDeclined?: boolean }> {
  const granted = token.scopes.some((s) => s.toLowerCase().endsWith(EXCHANGE_MANAGE_SCOPE.toLowerCase()));
  if (!granted || !token.accessToken) return { exchangeDeclined: true };
  const endpoint = exchange.endpoint.replace(/\/+$/, "");
  let servicePrincipalId: string | undefined;
  try {
    const app = await client.acquireTokenByClientCredential({ scopes: [`${endpoint}/.default`] });
    servicePrincipalId = app ? oidOf(app.accessToken) : undefined;
  } catch {
    servicePrincipalId = undefined;
  }
  if (!servicePrincipalId) return {};
  const run = delegatedExchange({
    endpoint,
    tenantId,
    accessToken: token.accessToken,
    ...(exchange.retry && { retry: exchange.retry }),
    ...(exchange.fetch && { fetch: exchange.fetch }),
    ...(exchange.budgetMs !== undefined && { budgetMs: exchange.budgetMs }),
  });
  return { admin: { run, servicePrincipalId } };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `oid` claim of an app-only access token: the object id of the app's service principal in
 * the tenant (Entra's access token claims reference). Read without checking the signature: the
 * token came straight from the token endpoint over TLS.
 */
function oidOf(accessToken: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString("utf8"));
    const oid = (payload as { oid?: unknown }).oid;
    return typeof oid === "string" && GUID.test(oid) ? oid : undefined;
  } catch {
    return undefined;
  }
}
