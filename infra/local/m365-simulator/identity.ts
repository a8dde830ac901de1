/**
 * Entra ID as the simulator serves it: instance discovery, the OpenID configuration, admin
 * consent, a user's sign-in (the authorize endpoint with `response_type=code`, signing in the
 * tenant's simulated user at once), and the token endpoint: client credentials and
 * authorization codes (secret or certificate assertion); and the bearer tokens Graph and
 * Exchange check. Each flow lives in its own module under identity/; this is their router and
 * the sign-in state they share.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { entraError, send } from "./http.ts";
import { adminConsent } from "./identity/admin-consent.ts";
import { authorize, type SignInBook } from "./identity/authorize.ts";
import { instanceDiscovery, openidConfiguration } from "./identity/discovery.ts";
import { token } from "./identity/token.ts";
import { authenticate, type TokenClaims } from "./identity/tokens.ts";
import type { SimHost } from "./server.ts";
import type { SimSignInUser } from "./types.ts";

export class IdentityService {
  readonly #host: SimHost;
  readonly #book: SignInBook = {
    users: new Map(),
    codes: new Map(),
    redirectUris: new Set(),
    userTokens: new Map(),
  };

  constructor(host: SimHost) {
    this.#host = host;
  }

  setSignInUser(tenantId: string, user: SimSignInUser | null): void {
    if (user === null) this.#book.users.delete(tenantId.toLowerCase());
    else this.#book.users.set(tenantId.toLowerCase(), { ...user });
  }

  registerRedirectUri(uri: string): void {
    new URL(uri);
    this.#book.redirectUris.add(uri);
  }

  reset(): void {
    this.#book.users.clear();
    this.#book.codes.clear();
    this.#book.userTokens.clear();
  }

  userTokens(tenantId: string): string[] {
    return [...(this.#book.userTokens.get(tenantId.toLowerCase()) ?? [])];
  }

  async handle(req: IncomingMessage, res: ServerResponse, parts: string[], url: URL): Promise<void> {
    const host = this.#host;
    const [tenant, ...rest] = parts;
    const path = rest.join("/");
    if (tenant === "common" && path === "discovery/instance") return instanceDiscovery(host, res);
    if (!tenant || !/^[A-Za-z0-9.-]{1,100}$/.test(tenant)) return send(res, 404, { error: "not_found" });
    const tenantId = tenant.toLowerCase();
    if (req.method === "GET" && path === "v2.0/.well-known/openid-configuration") {
      return openidConfiguration(host, res, tenant, tenantId);
    }
    if (req.method === "GET" && path === "adminconsent") return adminConsent(host, res, tenantId, url);
    if (req.method === "GET" && path === "oauth2/v2.0/authorize") {
      return authorize(host, this.#book, res, tenantId, url);
    }
    if (req.method === "POST" && path === "oauth2/v2.0/token")
      return token(host, this.#book, req, res, tenantId);
    return send(
      res,
      404,
      entraError("invalid_request", `AADSTS90002: No such endpoint: ${url.pathname}`, 90002),
    );
  }

  authenticate(req: IncomingMessage, resource: string): TokenClaims | string {
    return authenticate(this.#host, req, resource);
  }
}
