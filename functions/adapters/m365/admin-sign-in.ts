/**
 * The customer admin's sign-in after admin consent (OpenID Connect authorization code flow),
 * the `AdminSignIn` port over @azure/msal-node: the authorize URL of the tenant, and the code
 * redeemed server-side at the tenant's token endpoint with the app's own credential (client
 * secret or certificate, as for the app-only tokens). The ID token comes straight from the
 * token endpoint over TLS, so its claims are read without checking its signature (OpenID
 * Connect Core 3.1.3.7); MSAL checks the nonce, the callback checks the claims.
 */
import { createHash, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfidentialClientApplication, type Configuration } from "@azure/msal-node";
import { PUBLIC_AUTHORITY_HOSTS } from "../../commons/config.ts";
import type { AdminSignIn, RedeemResult } from "../../domain/binding.ts";
import { type AdminExchangeOptions, adminExchangeAccess, scopesOf } from "./admin-exchange-access.ts";

export type SignInCredential =
  | { clientSecret: string }
  | { certificatePem: string }
  | { certificatePath: string };

export interface AdminSignInOptions {
  clientId: string;
  authorityHost: string;
  /**
   * The app's credential; a function is called at the first redemption (the API function reads
   * the Secrets Manager secret only when a customer's admin comes back signed in).
   */
  credential: SignInCredential | (() => Promise<SignInCredential>);
  /** Off for public clouds; on for an explicit (private or simulated) authority host. */
  disableInstanceDiscovery?: boolean;
  /** `prompt` of the sign-in. @default "select_account" */
  prompt?: "select_account" | "none" | "login";
  /** Told of a failed redemption (logs): Entra's error code, never the code or a token. */
  onFailure?: (failure: { tenantId: string; error: string; transient: boolean }) => void;
  /**
   * Exchange Online (its endpoint, e.g. `https://outlook.office365.com`): when a sign-in asks for
   * it, the admin's delegated `Exchange.Manage` for the least-privilege setup. Without it the
   * sign-in never asks for Exchange.
   */
  exchange?: AdminExchangeOptions;
}

export function createAdminSignIn(options: AdminSignInOptions): AdminSignIn {
  const authorityHost = options.authorityHost.replace(/\/+$/, "");
  const knownAuthority = options.disableInstanceDiscovery ?? !PUBLIC_AUTHORITY_HOSTS.includes(authorityHost);
  let credential: Promise<Configuration["auth"]> | undefined;
  const auth = () => {
    credential ??= (async () => {
      const c = typeof options.credential === "function" ? await options.credential() : options.credential;
      return { clientId: options.clientId, ...msalCredential(c) };
    })();
    credential.catch(() => {
      credential = undefined;
    });
    return credential;
  };

  return {
    clientId: options.clientId,
    authorizeUrl(request) {
      const { tenantId, redirectUri, state, nonce, codeChallenge } = request;
      const url = new URL(`${authorityHost}/${encodeURIComponent(tenantId)}/oauth2/v2.0/authorize`);
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("redirect_uri", redirectUri);
      url.searchParams.set("response_mode", "query");
      url.searchParams.set("scope", scopesOf(options.exchange, request.exchange).join(" "));
      url.searchParams.set("state", state);
      url.searchParams.set("nonce", nonce);
      url.searchParams.set("prompt", options.prompt ?? "select_account");
      if (codeChallenge) {
        url.searchParams.set("code_challenge", codeChallenge);
        url.searchParams.set("code_challenge_method", "S256");
      }
      return url.toString();
    },
    async redeem({ tenantId, code, redirectUri, nonce, codeVerifier, exchange }): Promise<RedeemResult> {
      let result: RedeemResult;
      try {
        // One client per redemption: nothing of a customer's admin stays cached in the process.
        const client = new ConfidentialClientApplication({
          auth: {
            ...(await auth()),
            authority: `${authorityHost}/${tenantId}`,
            ...(knownAuthority ? { knownAuthorities: [authorityHost] } : {}),
          },
        });
        // MSAL refuses an ID token whose nonce is not the request's.
        const token = await client.acquireTokenByCode({
          code,
          redirectUri,
          scopes: scopesOf(options.exchange, exchange),
          nonce,
          ...(codeVerifier && { codeVerifier }),
        });
        result = { ok: true, claims: token.idTokenClaims ?? {} };
        if (options.exchange && exchange) {
          result = { ...result, ...(await adminExchangeAccess(client, token, tenantId, options.exchange)) };
        }
      } catch (err) {
        result = failure(err);
      }
      if (!result.ok) {
        try {
          options.onFailure?.({ tenantId, error: result.error, transient: result.transient });
        } catch {
          // Logging must never change the answer.
        }
      }
      return result;
    },
  };
}

function msalCredential(c: SignInCredential): Partial<Configuration["auth"]> {
  if ("clientSecret" in c) return { clientSecret: c.clientSecret };
  const pem = "certificatePem" in c ? c.certificatePem : readFileSync(c.certificatePath, "utf8");
  const cert = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!cert) throw new Error("the app's certificate PEM holds no certificate");
  const der = Buffer.from(cert.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  const privateKey = createPrivateKey(pem).export({ type: "pkcs8", format: "pem" }).toString();
  return {
    clientCertificate: { thumbprintSha256: createHash("sha256").update(der).digest("hex"), privateKey },
  };
}

/** MSAL's failure as a short code: Entra's `error` (or MSAL's own), transient for 429/5xx/network. */
function failure(err: unknown): RedeemResult & { ok: false } {
  const e = err as { errorCode?: unknown; status?: unknown; name?: unknown };
  // Not MSAL's (the credential could not be read): the service's fault, not the code's.
  if (typeof e.errorCode !== "string" || !e.errorCode)
    return { ok: false, error: "unavailable", transient: true };
  const error = e.errorCode;
  const status = typeof e.status === "number" ? e.status : undefined;
  const transient =
    status === 429 ||
    (status !== undefined && status >= 500) ||
    /network|timeout|temporarily_unavailable|ECONN|ENOTFOUND/i.test(error);
  return { ok: false, error: error.slice(0, 64), transient };
}
