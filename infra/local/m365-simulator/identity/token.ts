/** Entra's token endpoint: the client credentials grant here, the authorization code grant in code-grant.ts. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { servicePrincipalObjectId } from "../exchange/rbac.ts";
import { entraError, readBody, send } from "../http.ts";
import type { SimHost } from "../server.ts";
import type { SignInBook } from "./authorize.ts";
import { checkClientCredentials } from "./client-auth.ts";
import { redeemCode } from "./code-grant.ts";
import { signToken, type TokenClaims } from "./tokens.ts";

/** `POST /{tenant}/oauth2/v2.0/token`. */
export async function token(
  host: SimHost,
  book: SignInBook,
  req: IncomingMessage,
  res: ServerResponse,
  tenantId: string,
): Promise<void> {
  const form = new URLSearchParams(await readBody(req));
  const scope = form.get("scope") ?? "";
  const resource =
    scope
      .split(" ")
      .find((s) => s.endsWith("/.default"))
      ?.slice(0, -"/.default".length) ?? "";
  const call = host.record({
    tenantId,
    service: "identity",
    operation: "token",
    write: false,
    resource,
  });
  const reply = (status: number, body: unknown) => {
    call.status = status;
    send(res, status, body);
  };
  await host.latency();
  if (await host.applyFault(call, res, host.takeFault(tenantId, "token"), "entra")) return;
  if (tenantId === "common" || tenantId === "organizations" || tenantId === "consumers") {
    return reply(
      400,
      entraError(
        "invalid_request",
        "AADSTS900023: Specified tenant identifier is neither a valid DirectoryName nor a valid ObjectId; the client credentials flow needs a tenant.",
        900023,
      ),
    );
  }
  if (form.get("grant_type") === "authorization_code") return redeemCode(host, book, form, tenantId, reply);
  if (form.get("grant_type") !== "client_credentials") {
    return reply(
      400,
      entraError(
        "unsupported_grant_type",
        "AADSTS70003: The app requested an unsupported grant type.",
        70003,
      ),
    );
  }
  const clientId = form.get("client_id") ?? "";
  const state = host.state(tenantId);
  if (clientId !== host.settings.clientId || !state.consented) {
    return reply(
      400,
      entraError(
        "unauthorized_client",
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        700016,
      ),
    );
  }
  const authFailure = checkClientCredentials(host, form, tenantId);
  if (authFailure) return reply(401, authFailure);
  const endpoints = host.endpoints;
  if (resource !== endpoints.graph && resource !== endpoints.exchange) {
    return reply(
      400,
      entraError(
        "invalid_resource",
        `AADSTS500011: The resource principal named ${resource || "(none)"} was not found in the tenant named ${tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
        500011,
      ),
    );
  }
  const lifetime = host.settings.tokenLifetimeSeconds;
  const claims: TokenClaims = {
    aud: resource,
    tid: tenantId,
    appid: clientId,
    roles: resource === endpoints.exchange ? ["Exchange.ManageAsApp"] : ["Organization.Read.All"],
    exp: Math.floor(Date.now() / 1000) + lifetime,
    // App-only tokens name the app's service principal in the tenant (Entra's `oid` claim).
    oid: servicePrincipalObjectId(tenantId, clientId),
  };
  reply(200, {
    token_type: "Bearer",
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: signToken(claims, host.settings.tokenKey),
  });
}
