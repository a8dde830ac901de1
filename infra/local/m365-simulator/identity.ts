/**
 * Entra ID as the simulator serves it: instance discovery, the OpenID configuration, admin
 * consent, a user's sign-in (the authorize endpoint with `response_type=code`, signing in the
 * tenant's simulated user at once), and the token endpoint: client credentials and
 * authorization codes (secret or certificate assertion); and the bearer tokens Graph and
 * Exchange check.
 */
import {
  constants,
  createHash,
  createHmac,
  randomBytes,
  randomUUID,
  timingSafeEqual,
  verify as verifySignature,
} from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { asksForExchange, type DelegatedClaims, EXCHANGE_MANAGE } from "./exchange/delegated.ts";
import { servicePrincipalObjectId } from "./exchange/rbac.ts";
import { entraError, escapeHtml, readBody, send } from "./http.ts";
import type { SimHost } from "./server.ts";
import type { SimSignInUser } from "./types.ts";

/** Global Administrator's role template id: the simulated user's role unless a test says otherwise. */
export const GLOBAL_ADMINISTRATOR_ROLE = "62e90394-69f5-4237-9190-012177145e10";
/** What every member user holds (the "User" role template). */
const USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509";
/** Entra's authorization codes are short lived (about 10 minutes). */
const CODE_LIFETIME_MS = 10 * 60_000;

interface IssuedCode {
  /** The tenant of the authorize endpoint it came from. */
  tenantId: string;
  clientId: string;
  redirectUri: string;
  nonce: string | undefined;
  /** PKCE: the authorize request's challenge (S256 or plain). */
  codeChallenge: { value: string; method: string } | undefined;
  scopes: string[];
  user: Required<SimSignInUser> & { oid: string };
  expiresAt: number;
  redeemed: boolean;
}

export interface TokenClaims extends DelegatedClaims {
  aud: string;
  tid: string;
  appid: string;
  roles: string[];
  exp: number;
}

export class IdentityService {
  readonly #host: SimHost;
  /** Who signs in at a tenant's authorize endpoint (default: a Global Administrator of it). */
  readonly #users = new Map<string, SimSignInUser>();
  readonly #codes = new Map<string, IssuedCode>();
  /** The app's registered redirect URIs; when none is registered, loopback http(s) ones are accepted. */
  readonly #redirectUris = new Set<string>();

  constructor(host: SimHost) {
    this.#host = host;
  }

  setSignInUser(tenantId: string, user: SimSignInUser | null): void {
    if (user === null) this.#users.delete(tenantId.toLowerCase());
    else this.#users.set(tenantId.toLowerCase(), { ...user });
  }

  registerRedirectUri(uri: string): void {
    new URL(uri);
    this.#redirectUris.add(uri);
  }

  reset(): void {
    this.#users.clear();
    this.#codes.clear();
  }

  #redirectAllowed(uri: string): boolean {
    if (this.#redirectUris.size > 0) return this.#redirectUris.has(uri);
    try {
      const url = new URL(uri);
      return /^https?:$/.test(url.protocol) && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
    } catch {
      return false;
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, parts: string[], url: URL): Promise<void> {
    const [tenant, ...rest] = parts;
    const path = rest.join("/");
    if (tenant === "common" && path === "discovery/instance") {
      const host = new URL(this.#host.url).host;
      return send(res, 200, {
        tenant_discovery_endpoint: `${this.#host.url}/common/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    if (!tenant || !/^[A-Za-z0-9.-]{1,100}$/.test(tenant)) return send(res, 404, { error: "not_found" });
    const tenantId = tenant.toLowerCase();
    if (req.method === "GET" && path === "v2.0/.well-known/openid-configuration") {
      this.#host.record({
        tenantId,
        service: "identity",
        operation: "openid-configuration",
        write: false,
      }).status = 200;
      const base = `${this.#host.url}/${tenant}`;
      return send(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          "client_secret_post",
          "private_key_jwt",
          "client_secret_basic",
        ],
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
        msgraph_host: new URL(this.#host.endpoints.graph).host,
      });
    }
    if (req.method === "GET" && path === "adminconsent") return this.#adminConsent(res, tenantId, url);
    if (req.method === "GET" && path === "oauth2/v2.0/authorize") return this.#authorize(res, tenantId, url);
    if (req.method === "POST" && path === "oauth2/v2.0/token") return this.#token(req, res, tenantId);
    return send(
      res,
      404,
      entraError("invalid_request", `AADSTS90002: No such endpoint: ${url.pathname}`, 90002),
    );
  }

  #adminConsent(res: ServerResponse, tenantId: string, url: URL): void {
    const call = this.#host.record({ tenantId, service: "identity", operation: "adminconsent", write: true });
    if (url.searchParams.get("client_id") !== this.#host.settings.clientId) {
      call.status = 400;
      send(
        res,
        400,
        entraError(
          "unauthorized_client",
          `AADSTS700016: Application with identifier '${url.searchParams.get("client_id")}' was not found.`,
          700016,
        ),
      );
      return;
    }
    this.#host.setConsented(tenantId, true);
    const redirect = url.searchParams.get("redirect_uri");
    if (redirect && /^https?:\/\//.test(redirect)) {
      const target = new URL(redirect);
      target.searchParams.set("admin_consent", "True");
      target.searchParams.set("tenant", tenantId);
      const state = url.searchParams.get("state");
      if (state) target.searchParams.set("state", state);
      call.status = 302;
      res.writeHead(302, { location: target.toString() }).end();
      return;
    }
    call.status = 200;
    res
      .writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end(
        `<!doctype html><title>Consent granted</title><p>Admin consent granted for tenant ${escapeHtml(tenantId)} (simulator).</p>`,
      );
  }

  /**
   * The sign-in of a user of the tenant (`response_type=code`, `response_mode=query`): the
   * simulated user signs in at once and the browser goes back to the registered `redirect_uri`
   * with a single-use `code` bound to the client, the redirect URI, the nonce and the PKCE
   * challenge (when given, the redemption must bring its verifier).
   */
  async #authorize(res: ServerResponse, tenantId: string, url: URL): Promise<void> {
    const call = this.#host.record({ tenantId, service: "identity", operation: "authorize", write: false });
    const page = (status: number, text: string) => {
      call.status = status;
      res
        .writeHead(status, { "content-type": "text/html; charset=utf-8" })
        .end(`<!doctype html><title>Sign in</title><p>${escapeHtml(text)}</p>`);
    };
    const q = url.searchParams;
    const clientId = q.get("client_id") ?? "";
    if (clientId !== this.#host.settings.clientId) {
      return page(
        400,
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`,
      );
    }
    const redirectUri = q.get("redirect_uri") ?? "";
    if (!this.#redirectAllowed(redirectUri)) {
      return page(
        400,
        `AADSTS50011: The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
      );
    }
    const back = new URL(redirectUri);
    const state = q.get("state");
    if (state !== null) back.searchParams.set("state", state);
    const redirect = () => {
      call.status = 302;
      res.writeHead(302, { location: back.toString() }).end();
    };
    const fail = (error: string, description: string) => {
      back.searchParams.set("error", error);
      back.searchParams.set("error_description", description);
      redirect();
    };
    if (q.get("response_type") !== "code") {
      return fail(
        "unsupported_response_type",
        "AADSTS700054: response_type is not enabled for the application.",
      );
    }
    const mode = q.get("response_mode") ?? "query";
    if (mode !== "query") {
      return fail(
        "invalid_request",
        `AADSTS900144: response_mode '${mode}' is not supported by the simulator.`,
      );
    }
    const scopes = (q.get("scope") ?? "").split(/\s+/).filter(Boolean);
    if (!scopes.includes("openid")) {
      return fail(
        "invalid_request",
        "AADSTS900144: The request body must contain the following parameter: 'scope' with 'openid'.",
      );
    }
    const chosen = this.#users.get(tenantId);
    const user = {
      roles: chosen?.roles ?? [GLOBAL_ADMINISTRATOR_ROLE],
      tenantId: (chosen?.tenantId ?? tenantId).toLowerCase(),
      wids: chosen?.wids ?? true,
      declineExchange: chosen?.declineExchange ?? false,
      oid: randomUUID(),
    };
    const code = `sim.${randomBytes(32).toString("base64url")}`;
    this.#codes.set(code, {
      tenantId,
      clientId,
      redirectUri,
      nonce: q.get("nonce") ?? undefined,
      codeChallenge: q.get("code_challenge")
        ? { value: q.get("code_challenge") ?? "", method: q.get("code_challenge_method") ?? "plain" }
        : undefined,
      scopes,
      user,
      expiresAt: Date.now() + CODE_LIFETIME_MS,
      redeemed: false,
    });
    for (const [key, issued] of this.#codes) if (issued.expiresAt < Date.now()) this.#codes.delete(key);
    back.searchParams.set("code", code);
    back.searchParams.set("session_state", randomUUID());
    redirect();
  }

  async #token(req: IncomingMessage, res: ServerResponse, tenantId: string): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const scope = form.get("scope") ?? "";
    const resource =
      scope
        .split(" ")
        .find((s) => s.endsWith("/.default"))
        ?.slice(0, -"/.default".length) ?? "";
    const call = this.#host.record({
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
    await this.#host.latency();
    if (await this.#host.applyFault(call, res, this.#host.takeFault(tenantId, "token"), "entra")) return;
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
    if (form.get("grant_type") === "authorization_code") return this.#redeemCode(form, tenantId, reply);
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
    const state = this.#host.state(tenantId);
    if (clientId !== this.#host.settings.clientId || !state.consented) {
      return reply(
        400,
        entraError(
          "unauthorized_client",
          `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
          700016,
        ),
      );
    }
    const authFailure = this.#checkClientCredentials(form, tenantId);
    if (authFailure) return reply(401, authFailure);
    const endpoints = this.#host.endpoints;
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
    const lifetime = this.#host.settings.tokenLifetimeSeconds;
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
      access_token: signToken(claims, this.#host.settings.tokenKey),
    });
  }

  /**
   * The authorization code grant: the app authenticates (secret or assertion) and the code must
   * be one this tenant's authorize endpoint issued to this client for this redirect URI, not
   * redeemed before and not expired. Answers an ID token of the signed-in user.
   */
  async #redeemCode(
    form: URLSearchParams,
    tenantId: string,
    reply: (status: number, body: unknown) => void,
  ): Promise<void> {
    const clientId = form.get("client_id") ?? "";
    if (clientId !== this.#host.settings.clientId) {
      return reply(
        400,
        entraError(
          "unauthorized_client",
          `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`,
          700016,
        ),
      );
    }
    const authFailure = this.#checkClientCredentials(form, tenantId, "authorization_code");
    if (authFailure) return reply(401, authFailure);
    const code = form.get("code") ?? "";
    const issued = this.#codes.get(code);
    const invalid = (description: string, number: number) =>
      reply(400, entraError("invalid_grant", description, number));
    if (!issued) return invalid("AADSTS9002313: Invalid request. Request is malformed or invalid.", 9002313);
    if (issued.redeemed) {
      return invalid(
        "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        54005,
      );
    }
    // A code is spent by any redemption attempt (a second try with the same code is refused).
    issued.redeemed = true;
    if (issued.expiresAt < Date.now()) {
      return invalid(
        "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
        70008,
      );
    }
    if (issued.tenantId !== tenantId) {
      return invalid(
        "AADSTS700005: Provided Authorization Code is intended to use against other tenant, thus rejected.",
        700005,
      );
    }
    if (issued.clientId !== clientId) {
      return invalid("AADSTS70000: The provided authorization code was issued to another client.", 70000);
    }
    if (issued.redirectUri !== (form.get("redirect_uri") ?? "")) {
      return invalid(
        "AADSTS500112: The reply address does not match the reply address provided when requesting the authorization code.",
        500112,
      );
    }
    if (issued.codeChallenge && !pkceMatches(issued.codeChallenge, form.get("code_verifier"))) {
      return invalid(
        "AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        50148,
      );
    }
    const { user } = issued;
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.#host.settings.tokenLifetimeSeconds;
    const idToken = signJwt(
      {
        aud: clientId,
        iss: `${this.#host.url}/${user.tenantId}/v2.0`,
        iat: now,
        nbf: now,
        exp: now + lifetime,
        ...(issued.nonce !== undefined && { nonce: issued.nonce }),
        oid: user.oid,
        sub: createHmac("sha256", this.#host.settings.tokenKey)
          .update(`${clientId}|${user.oid}`)
          .digest("base64url"),
        tid: user.tenantId,
        name: "Simulated admin",
        preferred_username: `admin@${user.tenantId}.simulator.local`,
        ...(user.wids && { wids: [...user.roles, USER_ROLE] }),
        ver: "2.0",
      },
      this.#host.settings.tokenKey,
    );
    // With Exchange.Manage asked for (and not declined), the access token is the user's for
    // Exchange (delegated: `scp`, and the user's roles decide what it may run); else for Graph.
    const exchange = asksForExchange(issued.scopes, this.#host.endpoints.exchange) && !user.declineExchange;
    const granted = issued.scopes.filter(
      (s) => exchange || !asksForExchange([s], this.#host.endpoints.exchange),
    );
    reply(200, {
      token_type: "Bearer",
      scope: granted.join(" "),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: signToken(
        {
          aud: exchange ? this.#host.endpoints.exchange : this.#host.endpoints.graph,
          tid: user.tenantId,
          appid: clientId,
          roles: [],
          exp: now + lifetime,
          ...(exchange && { scp: EXCHANGE_MANAGE, wids: [...user.roles, USER_ROLE], oid: user.oid }),
        },
        this.#host.settings.tokenKey,
      ),
      id_token: idToken,
      client_info: Buffer.from(JSON.stringify({ uid: user.oid, utid: user.tenantId })).toString("base64url"),
    });
  }

  #checkClientCredentials(form: URLSearchParams, tenantId: string, grant = "client_credentials"): unknown {
    const secret = form.get("client_secret");
    if (secret !== null) {
      const a = Buffer.from(secret);
      const b = Buffer.from(this.#host.settings.clientSecret);
      if (a.length === b.length && timingSafeEqual(a, b)) return undefined;
      return entraError(
        "invalid_client",
        `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.#host.settings.clientId}'.`,
        7000215,
      );
    }
    const assertion = form.get("client_assertion");
    if (
      assertion !== null &&
      form.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ) {
      const problem = this.#checkAssertion(assertion, tenantId);
      return problem === undefined
        ? undefined
        : entraError("invalid_client", problem, Number(problem.slice(6, problem.indexOf(":"))));
    }
    return entraError(
      "invalid_client",
      `AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the '${grant}' grant type.`,
      7000216,
    );
  }

  #checkAssertion(assertion: string, tenantId: string): string | undefined {
    const [h, p, s] = assertion.split(".");
    if (!h || !p || !s) return "AADSTS50027: JWT token is invalid or malformed.";
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
      payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    } catch {
      return "AADSTS50027: JWT token is invalid or malformed.";
    }
    const sha256 =
      typeof header["x5t#S256"] === "string"
        ? Buffer.from(header["x5t#S256"], "base64url").toString("hex")
        : undefined;
    const sha1 =
      typeof header["x5t"] === "string" ? Buffer.from(header["x5t"], "base64url").toString("hex") : undefined;
    const cert = this.#host.settings.clientCertificates.find((c) => c.sha256 === sha256 || c.sha1 === sha1);
    if (!cert) {
      return `AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${(sha1 ?? sha256 ?? "").toUpperCase()}']`;
    }
    const pss = header["alg"] === "PS256";
    if (header["alg"] !== "RS256" && !pss)
      return "AADSTS5002730: Invalid JWT token. Unsupported key for the signing algorithm.";
    const valid = verifySignature(
      "sha256",
      Buffer.from(`${h}.${p}`),
      pss ? { key: cert.certPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : cert.certPem,
      Buffer.from(s, "base64url"),
    );
    if (!valid) return "AADSTS700027: Client assertion contains an invalid signature.";
    if (payload["iss"] !== this.#host.settings.clientId || payload["sub"] !== this.#host.settings.clientId) {
      return "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.";
    }
    const aud = String(payload["aud"] ?? "");
    if (!aud.startsWith(this.#host.url) || !aud.toLowerCase().includes(tenantId)) {
      return `AADSTS700212: No matching federated identity record found for presented assertion audience '${aud}'.`;
    }
    if (typeof payload["exp"] !== "number" || payload["exp"] * 1000 < Date.now()) {
      return "AADSTS700024: Client assertion is not within its valid time range.";
    }
    return undefined;
  }

  authenticate(req: IncomingMessage, resource: string): TokenClaims | string {
    const header = req.headers.authorization ?? "";
    if (!/^Bearer /i.test(header)) return "Authorization header is missing or is not a Bearer token.";
    const claims = verifyToken(header.slice(7).trim(), this.#host.settings.tokenKey);
    if (!claims) return "Access token validation failure. Invalid signature.";
    if (claims.exp * 1000 < Date.now()) return "Lifetime validation failed, the token is expired.";
    if (claims.aud !== resource)
      return `Access token validation failure. Invalid audience: expected ${resource}.`;
    // Consent revoked since the token was issued: the app's service principal is gone.
    const revokedAt = this.#host.state(claims.tid).tokensRevokedAt;
    const issuedAt = (claims as TokenClaims & { iat?: number }).iat ?? 0;
    if (revokedAt !== undefined && issuedAt <= revokedAt) {
      return "Access token validation failure. The application's service principal was removed from the tenant.";
    }
    return claims;
  }
}

export function signToken(claims: TokenClaims, key: Buffer): string {
  const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "HS256" })).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ ...claims, iat: Math.floor(Date.now() / 1000), uti: randomUUID(), ver: "1.0" }),
  ).toString("base64url");
  const sig = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

/** A JWT of any claims, signed like the simulator's access tokens (HS256 with its token key). */
export function signJwt(claims: Record<string, unknown>, key: Buffer): string {
  const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "HS256" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify({ ...claims, uti: randomUUID() })).toString("base64url");
  const sig = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

export function verifyToken(token: string, key: Buffer): TokenClaims | undefined {
  const [h, p, s] = token.split(".");
  if (!h || !p || !s) return undefined;
  const expected = createHmac("sha256", key).update(`${h}.${p}`).digest();
  const actual = Buffer.from(s, "base64url");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
  try {
    return JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as TokenClaims;
  } catch {
    return undefined;
  }
}

/** RFC 7636 4.6: the verifier, hashed (S256) or as is (plain), is the authorize request's challenge. */
function pkceMatches(challenge: { value: string; method: string }, verifier: string | null): boolean {
  if (!verifier) return false;
  const derived =
    challenge.method === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
  return derived === challenge.value;
}
