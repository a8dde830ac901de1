/**
 * App-only access tokens per customer tenant and resource: one @azure/identity credential per
 * tenant, and one token request per tenant+resource while the token is valid (concurrent
 * callers share the request in flight).
 */
import { readFileSync } from "node:fs";
import {
  type AccessToken,
  ClientCertificateCredential,
  ClientSecretCredential,
  type TokenCredential,
} from "@azure/identity";
import { errorFromTokenFailure } from "./error-model.ts";
import type { OnCall } from "./retry.ts";

export type AppCredential =
  | { clientSecret: string }
  | { certificatePem: string; sendCertificateChain?: boolean }
  | { certificatePath: string; sendCertificateChain?: boolean };

export interface TokenProviderOptions {
  clientId: string;
  credential: AppCredential;
  authorityHost: string;
  /** Off for public clouds; on for an explicit (private or simulated) authority host. */
  disableInstanceDiscovery: boolean;
  /** Renew this long before expiry when Entra gave no refresh hint. @default 300000 */
  refreshMarginMs?: number;
  /** Credentials kept (least recently used beyond are rebuilt when needed). @default 500 */
  maxCredentials?: number;
  /** Builds the credential of a tenant; defaults to ClientSecret/ClientCertificateCredential. */
  createCredential?: (tenantId: string) => TokenCredential;
  onCall?: OnCall;
}

interface CachedToken {
  token: string;
  refreshAt: number;
  expiresAt: number;
}

export class TokenProvider {
  readonly #options: TokenProviderOptions;
  readonly #credentials = new Map<string, TokenCredential>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<string>>();
  readonly #certificatePem: string | undefined;

  constructor(options: TokenProviderOptions) {
    this.#options = options;
    const c = options.credential;
    // Read once per cold start; a missing file fails at startup, not mid-workflow.
    this.#certificatePem =
      "certificatePath" in c
        ? readFileSync(c.certificatePath, "utf8")
        : "certificatePem" in c
          ? c.certificatePem
          : undefined;
  }

  /** A bearer token for `{resource}/.default` in `tenantId`; throws named errors. */
  async getToken(tenantId: string, resource: string): Promise<string> {
    const key = `${tenantId.toLowerCase()} ${resource}`;
    const cached = this.#tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const request = this.#request(tenantId, resource, key, cached).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, request);
    return request;
  }

  /**
   * Forgets the cached token of a tenant and resource (and the tenant's credential, whose MSAL
   * cache would hand the same token back): the next getToken asks Entra ID for a new one.
   */
  invalidate(tenantId: string, resource: string): void {
    const id = tenantId.toLowerCase();
    this.#tokens.delete(`${id} ${resource}`);
    this.#credentials.delete(id);
  }

  async #request(
    tenantId: string,
    resource: string,
    key: string,
    stale: CachedToken | undefined,
  ): Promise<string> {
    const started = performance.now();
    let token: AccessToken | null;
    try {
      token = await this.#credential(tenantId).getToken(`${resource}/.default`);
      if (!token) throw new Error("the credential returned no token");
    } catch (err) {
      const error = errorFromTokenFailure(tenantId, resource, err);
      // MSAL remembers a 429/5xx and refuses the same request for up to a minute; a fresh
      // credential leaves the timing of the next attempt to our retry policy alone.
      if (error.retryable) this.#credentials.delete(tenantId.toLowerCase());
      // A renewal that fails transiently while the old token is still valid keeps the old one.
      if (stale && error.retryable && Date.now() < stale.expiresAt - 30_000) return stale.token;
      this.#emit(tenantId, started, "failure", error.name);
      throw error;
    }
    this.#emit(tenantId, started, "success");
    const margin = this.#options.refreshMarginMs ?? 300_000;
    const expiresAt = token.expiresOnTimestamp;
    const refreshAt = Math.min(token.refreshAfterTimestamp ?? Number.POSITIVE_INFINITY, expiresAt - margin);
    this.#tokens.set(key, { token: token.token, expiresAt, refreshAt });
    return token.token;
  }

  #credential(tenantId: string): TokenCredential {
    const id = tenantId.toLowerCase();
    let credential = this.#credentials.get(id);
    if (credential) {
      // Map order is insertion order: re-insert to mark as recently used.
      this.#credentials.delete(id);
      this.#credentials.set(id, credential);
      return credential;
    }
    credential = this.#options.createCredential?.(tenantId) ?? this.#create(tenantId);
    this.#credentials.set(id, credential);
    const max = this.#options.maxCredentials ?? 500;
    for (const oldest of this.#credentials.keys()) {
      if (this.#credentials.size <= max) break;
      this.#credentials.delete(oldest);
    }
    return credential;
  }

  #create(tenantId: string): TokenCredential {
    const { clientId, credential, authorityHost, disableInstanceDiscovery } = this.#options;
    // One retry layer (ours): identity's own pipeline retries would multiply the attempts.
    const common = { authorityHost, disableInstanceDiscovery, retryOptions: { maxRetries: 0 } };
    if ("clientSecret" in credential) {
      return new ClientSecretCredential(tenantId, clientId, credential.clientSecret, common);
    }
    return new ClientCertificateCredential(
      tenantId,
      clientId,
      { certificate: this.#certificatePem! },
      { ...common, sendCertificateChain: credential.sendCertificateChain ?? false },
    );
  }

  #emit(tenantId: string, started: number, outcome: "success" | "failure", errorName?: string): void {
    try {
      this.#options.onCall?.({
        service: "identity",
        tenantId,
        operation: "token",
        attempt: 1,
        durationMs: performance.now() - started,
        outcome,
        ...(errorName ? { errorName } : {}),
      });
    } catch {
      // Metrics must never break a call.
    }
  }
}
