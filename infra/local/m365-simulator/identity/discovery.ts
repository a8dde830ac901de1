/** Entra's discovery documents: instance discovery and a tenant's OpenID configuration. */
import type { ServerResponse } from "node:http";
import { send } from "../http.ts";
import type { SimHost } from "../server.ts";

/** `GET /common/discovery/instance`. */
export function instanceDiscovery(host: SimHost, res: ServerResponse): void {
  const name = new URL(host.url).host;
  send(res, 200, {
    tenant_discovery_endpoint: `${host.url}/common/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [{ preferred_network: name, preferred_cache: name, aliases: [name] }],
  });
}

/** `GET /{tenant}/v2.0/.well-known/openid-configuration`. */
export function openidConfiguration(
  host: SimHost,
  res: ServerResponse,
  tenant: string,
  tenantId: string,
): void {
  host.record({
    tenantId,
    service: "identity",
    operation: "openid-configuration",
    write: false,
  }).status = 200;
  const base = `${host.url}/${tenant}`;
  send(res, 200, {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    tenant_region_scope: "NA",
    cloud_instance_name: "simulator.local",
    msgraph_host: new URL(host.endpoints.graph).host,
  });
}
