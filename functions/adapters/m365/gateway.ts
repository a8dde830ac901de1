/**
 * The Microsoft 365 gateway: the `M365Gateway` port over @azure/identity, the Graph SDK and
 * our Exchange request core. Build it once per cold start and pass it to the workflow steps.
 */
import type { Client } from "@microsoft/microsoft-graph-client";
import {
  M365_CLOUDS,
  type M365Endpoints,
  PUBLIC_AUTHORITY_HOSTS,
  readM365AppConfig,
  resolveM365Endpoints,
} from "../../commons/config.ts";
import { NotFoundError } from "../../domain/errors.ts";
import type { GraphOperations, M365Gateway, M365Tenant, Organization } from "../../domain/m365.ts";
import { errorFromResponse } from "./error-model.ts";
import { ExchangeClient } from "./exchange-client.ts";
import { ExchangeTenantOperations } from "./exchange-operations.ts";
import { createGraphClient, GraphErrorSink } from "./graph-client.ts";
import { type OnCall, type RetryOptions, RetryPolicy } from "./retry.ts";
import type { TenantLeases } from "./tenant-leases.ts";
import { type AppCredential, TokenProvider, type TokenProviderOptions } from "./tokens.ts";

export interface M365GatewayOptions {
  /** Application (client) id of the multi-tenant app. */
  clientId: string;
  /** Client secret; or give a certificate. */
  clientSecret?: string;
  /** PEM file with the certificate and its private key (preferred over a secret when both are given). */
  clientCertificatePath?: string;
  /** The same PEM, inline. */
  clientCertificatePem?: string;
  /** @default M365_CLOUDS.global */
  endpoints?: M365Endpoints;
  /**
   * The domain whose subdomains may serve Exchange after a regional redirect (e.g.
   * `outlook.office365.com` for `eur01.outlook.office365.com`). @default the Exchange endpoint's host
   */
  exchangeDomain?: string;
  /**
   * MSAL instance discovery; off when the authority host is not a public cloud's.
   * @default true for explicit (private or simulated) authority hosts
   */
  disableInstanceDiscovery?: boolean;
  /** Added to the admin consent URL as `redirect_uri`. */
  consentRedirectUri?: string;
  /** In-task retries of 429/5xx/dropped connections. */
  retry?: RetryOptions;
  /** Called after every attempt (metrics: throttles, latencies). Never receives tokens. */
  onCall?: OnCall;
  /** Injectable: the fetch used for Exchange. */
  fetch?: typeof fetch;
  /** Injectable: build the credential of a tenant (tests, other credential types). */
  createCredential?: TokenProviderOptions["createCredential"];
  /** Tenants whose clients are kept (least recently used beyond are rebuilt). @default 500 */
  maxTenants?: number;
  /** Exchange requests in flight per tenant from this process. @default 3 */
  maxConcurrentPerTenant?: number;
  /**
   * The tenants' Exchange leases shared with every other environment, so that the cap above
   * holds per tenant across them. @default none: the cap holds in this process only
   */
  lease?: TenantLeases;
  /** Told of Exchange's `@adminapi.warnings` (logged). */
  onWarning?: (warning: { tenantId: string; cmdlet: string; warnings: string[] }) => void;
}

class GraphTenantOperations implements GraphOperations {
  readonly #client: Client;
  constructor(client: Client) {
    this.#client = client;
  }

  async getOrganization(): Promise<Organization> {
    const sink = new GraphErrorSink();
    let body: { value?: { id?: string; displayName?: string }[] };
    try {
      body = await this.#client.api("/organization").middlewareOptions([sink]).get();
    } catch (err) {
      throw sink.error ?? fromGraphSdkError(err);
    }
    const org = body.value?.[0];
    if (!org?.id) throw new NotFoundError("GET /organization: no organisation returned");
    return { id: org.id, displayName: org.displayName ?? "" };
  }
}

/** The SDK's own failures (before our middleware ran) still become named errors. */
function fromGraphSdkError(err: unknown): Error {
  const e = err as { statusCode?: number; body?: unknown; message?: string };
  const status = typeof e.statusCode === "number" && e.statusCode > 0 ? e.statusCode : 500;
  const body =
    typeof e.body === "string" ? e.body : JSON.stringify({ error: { message: e.message ?? String(err) } });
  return errorFromResponse("graph", "GET /organization", status, new Headers(), body);
}

/**
 * Builds the gateway.
 *
 * @example
 * ```ts
 * const gateway = createM365Gateway({ clientId, clientSecret, endpoints: M365_CLOUDS.global });
 * const org = await gateway.tenant(tenantId).graph.getOrganization();
 * ```
 */
export function createM365Gateway(options: M365GatewayOptions): M365Gateway {
  const endpoints = normalizeEndpoints(options.endpoints ?? M365_CLOUDS.global);
  const credential: AppCredential = options.clientCertificatePem
    ? { certificatePem: options.clientCertificatePem }
    : options.clientCertificatePath
      ? { certificatePath: options.clientCertificatePath }
      : options.clientSecret
        ? { clientSecret: options.clientSecret }
        : missingCredential();
  const retry = new RetryPolicy(options.retry, options.onCall);
  const tokens = new TokenProvider({
    clientId: options.clientId,
    credential,
    authorityHost: endpoints.authorityHost,
    disableInstanceDiscovery:
      options.disableInstanceDiscovery ?? !PUBLIC_AUTHORITY_HOSTS.includes(endpoints.authorityHost),
    maxCredentials: options.maxTenants ?? 500,
    ...(options.createCredential ? { createCredential: options.createCredential } : {}),
    ...(options.onCall ? { onCall: options.onCall } : {}),
  });
  const exchange = new ExchangeClient({
    endpoint: endpoints.exchange,
    ...(options.exchangeDomain ? { exchangeDomain: options.exchangeDomain } : {}),
    tokens,
    retry,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.maxConcurrentPerTenant ? { maxConcurrentPerTenant: options.maxConcurrentPerTenant } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    ...(options.lease ? { lease: options.lease } : {}),
  });
  const tenants = new Map<string, M365Tenant>();
  const maxTenants = options.maxTenants ?? 500;

  return {
    tenant(tenantId: string): M365Tenant {
      const key = tenantId.toLowerCase();
      const cached = tenants.get(key);
      if (cached) return cached;
      const graph = createGraphClient({
        endpoint: endpoints.graph,
        tenantId: key,
        retry,
        getToken: () => tokens.getToken(key, endpoints.graph),
      });
      const tenant: M365Tenant = {
        tenantId: key,
        exchange: new ExchangeTenantOperations(exchange, key),
        graph: new GraphTenantOperations(graph),
      };
      tenants.set(key, tenant);
      for (const oldest of tenants.keys()) {
        if (tenants.size <= maxTenants) break;
        tenants.delete(oldest);
      }
      return tenant;
    },
    consentUrl(tenantId: string): string {
      return consentUrl(endpoints.authorityHost, tenantId, options.clientId, options.consentRedirectUri);
    },
  };
}

/** `{authorityHost}/{tenantId}/adminconsent?client_id={clientId}` (plus `redirect_uri`). */
export function consentUrl(
  authorityHost: string,
  tenantId: string,
  clientId: string,
  redirectUri?: string,
): string {
  const url = new URL(`${authorityHost.replace(/\/+$/, "")}/${encodeURIComponent(tenantId)}/adminconsent`);
  url.searchParams.set("client_id", clientId);
  if (redirectUri) url.searchParams.set("redirect_uri", redirectUri);
  return url.toString();
}

/**
 * The gateway from the environment (README.md, "Configuration"): `M365_CLIENT_ID` with
 * `M365_CLIENT_SECRET` or `M365_CLIENT_CERTIFICATE_PATH`, `M365_CLOUD` and the explicit
 * endpoint overrides. Returns undefined when no app is configured.
 */
export function createM365GatewayFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<M365GatewayOptions> = {},
): M365Gateway | undefined {
  const app = readM365AppConfig(env);
  if (!app) return undefined;
  const resolved = resolveM365Endpoints(env);
  return createM365Gateway({
    clientId: app.clientId,
    ...(app.clientSecret ? { clientSecret: app.clientSecret } : {}),
    ...(app.clientCertificatePath ? { clientCertificatePath: app.clientCertificatePath } : {}),
    ...(app.consentRedirectUri ? { consentRedirectUri: app.consentRedirectUri } : {}),
    endpoints: resolved.endpoints,
    disableInstanceDiscovery:
      resolved.explicitAuthorityHost || !PUBLIC_AUTHORITY_HOSTS.includes(resolved.endpoints.authorityHost),
    ...overrides,
  });
}

function normalizeEndpoints(e: M365Endpoints): M365Endpoints {
  for (const [name, value] of Object.entries(e)) {
    if (!/^https:\/\//i.test(value)) throw new Error(`M365 ${name} endpoint must be https: ${value}`);
  }
  const trim = (s: string) => s.replace(/\/+$/, "");
  return { authorityHost: trim(e.authorityHost), graph: trim(e.graph), exchange: trim(e.exchange) };
}

function missingCredential(): never {
  throw new Error("createM365Gateway needs clientSecret, clientCertificatePath or clientCertificatePem");
}
