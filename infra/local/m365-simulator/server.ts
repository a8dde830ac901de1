/**
 * The simulator's HTTPS server: Entra ID (OpenID configuration, token endpoint, admin
 * consent), Microsoft Graph `GET /v1.0/organization`, Exchange's
 * `POST /adminapi/beta/{tenantId}/InvokeCommand`, and the control API under `/_sim/`.
 */
import { constants, createHmac, randomUUID, timingSafeEqual, verify as verifySignature } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  CmdletError,
  type DemoMailboxes,
  demoMailboxes,
  isWriteCmdlet,
  newTenantState,
  runCmdlet,
  type TenantState,
} from "./organization.ts";
import { seededRandom } from "./prng.ts";
import type {
  SimCall,
  SimFault,
  SimulatorConfig,
  SimulatorControl,
  SimulatorEndpoints,
  TenantSnapshot,
} from "./types.ts";

/** The system mailbox every InvokeCommand call is anchored to (what the EXO V3 module sends). */
export const EXCHANGE_ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";
const MAX_CALLS = 200_000;
const MAX_BODY = 1_048_576;

export interface ServerSettings {
  host: string;
  port: number;
  tls: { certPem: string; keyPem: string };
  clientId: string;
  clientSecret: string;
  /** Thumbprints (hex) and PEM of the client certificates the token endpoint accepts. */
  clientCertificates: { sha1: string; sha256: string; certPem: string }[];
  tokenKey: Buffer;
  tokenLifetimeSeconds: number;
  tenantDefaults: { consented: boolean; dehydrated: boolean };
  config: Required<Omit<SimulatorConfig, "faults" | "validation" | "tokenLifetimeSeconds">> & {
    faults: Required<NonNullable<SimulatorConfig["faults"]>>;
    validation: { lag: number; fail: boolean };
  };
  tenants: TenantState[];
  /** Called after a change to tenant state (persistence). */
  onChange?: () => void;
}

interface PendingFault {
  fault: SimFault;
  remaining: number;
}

interface TokenClaims {
  aud: string;
  tid: string;
  appid: string;
  roles: string[];
  exp: number;
}

class HttpFailure extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export class SimulatorServer implements SimulatorControl {
  readonly #settings: ServerSettings;
  readonly #server: Server;
  readonly #tenants = new Map<string, TenantState>();
  readonly #pending = new Map<string, PendingFault[]>();
  #calls: SimCall[] = [];
  #seq = 0;
  #random: () => number;
  #url = "";

  constructor(settings: ServerSettings) {
    this.#settings = settings;
    for (const t of settings.tenants) this.#tenants.set(t.tenantId.toLowerCase(), t);
    this.#random = seededRandom(settings.config.seed);
    this.#server = createServer({ cert: settings.tls.certPem, key: settings.tls.keyPem }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          send(res, 500, { error: { code: "InternalServerError", message: String(err) } });
      });
    });
    this.#server.keepAliveTimeout = 5_000;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#settings.port, this.#settings.host, () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `https://${this.#settings.host}:${port}`;
  }

  get url(): string {
    return this.#url;
  }

  get endpoints(): SimulatorEndpoints {
    return { authorityHost: this.#url, graph: `${this.#url}/graph`, exchange: `${this.#url}/exchange` };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Every tenant's state, for persistence. */
  states(): TenantState[] {
    return [...this.#tenants.values()];
  }

  // ---- control API ---------------------------------------------------------------------

  tenant(tenantId: string): TenantSnapshot {
    return snapshot(this.#state(tenantId));
  }

  calls(tenantId?: string): SimCall[] {
    const key = tenantId?.toLowerCase();
    return this.#calls.filter((c) => key === undefined || c.tenantId === key).map((c) => ({ ...c }));
  }

  resetCalls(): void {
    this.#calls = [];
  }

  configure(config: SimulatorConfig): void {
    const current = this.#settings.config;
    if (config.latencyMs !== undefined) current.latencyMs = nonNegative(config.latencyMs, "latencyMs");
    if (config.tokenLifetimeSeconds !== undefined) {
      this.#settings.tokenLifetimeSeconds = Math.max(
        1,
        nonNegative(config.tokenLifetimeSeconds, "tokenLifetimeSeconds"),
      );
    }
    if (config.pageSize !== undefined) current.pageSize = Math.max(1, Math.floor(config.pageSize));
    if (config.faults) {
      for (const [key, value] of Object.entries(config.faults)) {
        if (value !== undefined) (current.faults as Record<string, number>)[key] = nonNegative(value, key);
      }
    }
    if (config.validation?.lag !== undefined)
      current.validation.lag = nonNegative(config.validation.lag, "lag");
    if (config.validation?.fail !== undefined) current.validation.fail = Boolean(config.validation.fail);
    if (config.seed !== undefined) {
      current.seed = config.seed;
      this.#random = seededRandom(config.seed);
    }
  }

  setConsented(tenantId: string, consented: boolean): void {
    this.#state(tenantId).consented = consented;
    this.#settings.onChange?.();
  }

  setDehydrated(tenantId: string, dehydrated: boolean): void {
    this.#state(tenantId).dehydrated = dehydrated;
    this.#settings.onChange?.();
  }

  failNext(tenantId: string, operation: string, fault: SimFault, times = 1): void {
    const key = `${tenantId.toLowerCase()}|${operation.toLowerCase()}`;
    const list = this.#pending.get(key) ?? [];
    list.push({ fault, remaining: Math.max(1, Math.floor(times)) });
    this.#pending.set(key, list);
  }

  reset(): void {
    this.#tenants.clear();
    this.#pending.clear();
    this.#calls = [];
    this.#settings.onChange?.();
  }

  demo(tenantId: string): DemoMailboxes {
    return demoMailboxes(tenantId);
  }

  #state(tenantId: string): TenantState {
    const key = tenantId.toLowerCase();
    let state = this.#tenants.get(key);
    if (!state) {
      const d = this.#settings.tenantDefaults;
      state = newTenantState(key, d.consented, d.dehydrated);
      this.#tenants.set(key, state);
    }
    return state;
  }

  // ---- HTTP ----------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.#url);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === "_sim") return this.#control(req, res, parts.slice(1), url);
    try {
      if (parts[0] === "graph") return await this.#graph(req, res, parts.slice(1));
      if (parts[0] === "exchange") return await this.#exchange(req, res, parts.slice(1), url);
      return await this.#identity(req, res, parts, url);
    } catch (err) {
      if (err instanceof HttpFailure) return send(res, err.status, err.body, err.headers);
      throw err;
    }
  }

  #record(call: Omit<SimCall, "seq" | "at" | "status">): SimCall {
    const entry: SimCall = {
      seq: ++this.#seq,
      at: performance.timeOrigin + performance.now(),
      status: 0,
      ...call,
    };
    this.#calls.push(entry);
    if (this.#calls.length > MAX_CALLS) this.#calls.splice(0, this.#calls.length - MAX_CALLS);
    return entry;
  }

  async #latency(): Promise<void> {
    const ms = this.#settings.config.latencyMs;
    if (ms > 0) await sleep(ms);
  }

  #takeFault(tenantId: string, operation: string): SimFault | undefined {
    for (const key of [`${tenantId}|${operation.toLowerCase()}`, `*|${operation.toLowerCase()}`]) {
      const list = this.#pending.get(key);
      const head = list?.[0];
      if (!list || !head) continue;
      head.remaining -= 1;
      if (head.remaining <= 0) list.shift();
      if (list.length === 0) this.#pending.delete(key);
      return head.fault;
    }
    return undefined;
  }

  #randomFault(): SimFault | undefined {
    const f = this.#settings.config.faults;
    if (f.throttleRate + f.serverErrorRate + f.dropRate <= 0) return undefined;
    const r = this.#random();
    if (r < f.throttleRate) return { kind: "throttle", retryAfterSeconds: f.retryAfterSeconds };
    if (r < f.throttleRate + f.serverErrorRate) return { kind: "server-error" };
    if (r < f.throttleRate + f.serverErrorRate + f.dropRate) return { kind: "drop" };
    return undefined;
  }

  /**
   * Applies an injected (or random) fault. Returns true when the answer has been given
   * (or the connection dropped); a `delay` fault waits and lets the call go on.
   */
  async #applyFault(
    call: SimCall,
    res: ServerResponse,
    fault: SimFault | undefined,
    format: "odata" | "entra",
  ): Promise<boolean> {
    if (!fault) return false;
    const f = typeof fault === "string" ? ({ kind: fault } as Exclude<SimFault, string>) : fault;
    call.fault = f.kind;
    switch (f.kind) {
      case "delay":
        await sleep(f.ms);
        return false;
      case "drop":
        call.status = 0;
        res.socket?.destroy();
        return true;
      case "throttle": {
        const retryAfter =
          f.retryAfterDate ?? String(f.retryAfterSeconds ?? this.#settings.config.faults.retryAfterSeconds);
        call.status = 429;
        send(
          res,
          429,
          format === "entra"
            ? entraError(
                "temporarily_unavailable",
                "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
                50196,
              )
            : {
                error: {
                  code: "TooManyRequests",
                  message: "Too many requests. Retry after the time given in the Retry-After header.",
                },
              },
          { "retry-after": retryAfter },
        );
        return true;
      }
      case "server-error": {
        const status = f.status ?? 503;
        call.status = status;
        if (format === "entra") {
          send(
            res,
            status,
            entraError(
              "temporarily_unavailable",
              "AADSTS90033: A transient error has occurred. Please try again.",
              90033,
            ),
          );
          return true;
        }
        send(res, status, {
          error: {
            code: "ServiceUnavailable",
            message: "The service is temporarily unavailable. Try again later.",
          },
        });
        return true;
      }
      case "error": {
        call.status = f.status;
        if (format === "entra") {
          send(res, f.status, entraError(f.code ?? "invalid_request", f.message, aadstsCode(f.message)));
        } else if (call.service === "exchange") {
          send(
            res,
            f.status,
            exchangeError(
              f.status,
              f.exceptionType ?? "System.InvalidOperationException",
              f.message,
              "Ex000000",
            ),
          );
        } else {
          send(res, f.status, { error: { code: f.code ?? statusCode(f.status), message: f.message } });
        }
        return true;
      }
    }
  }

  // ---- identity ------------------------------------------------------------------------

  async #identity(req: IncomingMessage, res: ServerResponse, parts: string[], url: URL): Promise<void> {
    const [tenant, ...rest] = parts;
    const path = rest.join("/");
    if (tenant === "common" && path === "discovery/instance") {
      const host = new URL(this.#url).host;
      return send(res, 200, {
        tenant_discovery_endpoint: `${this.#url}/common/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    if (!tenant || !/^[A-Za-z0-9.-]{1,100}$/.test(tenant)) return send(res, 404, { error: "not_found" });
    const tenantId = tenant.toLowerCase();
    if (req.method === "GET" && path === "v2.0/.well-known/openid-configuration") {
      this.#record({
        tenantId,
        service: "identity",
        operation: "openid-configuration",
        write: false,
      }).status = 200;
      const base = `${this.#url}/${tenant}`;
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
        msgraph_host: new URL(this.endpoints.graph).host,
      });
    }
    if (req.method === "GET" && path === "adminconsent") return this.#adminConsent(res, tenantId, url);
    if (req.method === "POST" && path === "oauth2/v2.0/token") return this.#token(req, res, tenantId);
    return send(
      res,
      404,
      entraError("invalid_request", `AADSTS90002: No such endpoint: ${url.pathname}`, 90002),
    );
  }

  #adminConsent(res: ServerResponse, tenantId: string, url: URL): void {
    const call = this.#record({ tenantId, service: "identity", operation: "adminconsent", write: true });
    if (url.searchParams.get("client_id") !== this.#settings.clientId) {
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
    this.setConsented(tenantId, true);
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

  async #token(req: IncomingMessage, res: ServerResponse, tenantId: string): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const scope = form.get("scope") ?? "";
    const resource =
      scope
        .split(" ")
        .find((s) => s.endsWith("/.default"))
        ?.slice(0, -"/.default".length) ?? "";
    const call = this.#record({ tenantId, service: "identity", operation: "token", write: false, resource });
    const reply = (status: number, body: unknown) => {
      call.status = status;
      send(res, status, body);
    };
    await this.#latency();
    if (await this.#applyFault(call, res, this.#takeFault(tenantId, "token"), "entra")) return;
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
    const state = this.#state(tenantId);
    if (clientId !== this.#settings.clientId || !state.consented) {
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
    const endpoints = this.endpoints;
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
    const lifetime = this.#settings.tokenLifetimeSeconds;
    const claims: TokenClaims = {
      aud: resource,
      tid: tenantId,
      appid: clientId,
      roles: resource === endpoints.exchange ? ["Exchange.ManageAsApp"] : ["Organization.Read.All"],
      exp: Math.floor(Date.now() / 1000) + lifetime,
    };
    reply(200, {
      token_type: "Bearer",
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: signToken(claims, this.#settings.tokenKey),
    });
  }

  #checkClientCredentials(form: URLSearchParams, tenantId: string): unknown {
    const secret = form.get("client_secret");
    if (secret !== null) {
      const a = Buffer.from(secret);
      const b = Buffer.from(this.#settings.clientSecret);
      if (a.length === b.length && timingSafeEqual(a, b)) return undefined;
      return entraError(
        "invalid_client",
        `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.#settings.clientId}'.`,
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
      "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
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
    const cert = this.#settings.clientCertificates.find((c) => c.sha256 === sha256 || c.sha1 === sha1);
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
    if (payload["iss"] !== this.#settings.clientId || payload["sub"] !== this.#settings.clientId) {
      return "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.";
    }
    const aud = String(payload["aud"] ?? "");
    if (!aud.startsWith(this.#url) || !aud.toLowerCase().includes(tenantId)) {
      return `AADSTS700212: No matching federated identity record found for presented assertion audience '${aud}'.`;
    }
    if (typeof payload["exp"] !== "number" || payload["exp"] * 1000 < Date.now()) {
      return "AADSTS700024: Client assertion is not within its valid time range.";
    }
    return undefined;
  }

  #authenticate(req: IncomingMessage, resource: string): TokenClaims | string {
    const header = req.headers.authorization ?? "";
    if (!/^Bearer /i.test(header)) return "Authorization header is missing or is not a Bearer token.";
    const claims = verifyToken(header.slice(7).trim(), this.#settings.tokenKey);
    if (!claims) return "Access token validation failure. Invalid signature.";
    if (claims.exp * 1000 < Date.now()) return "Lifetime validation failed, the token is expired.";
    if (claims.aud !== resource)
      return `Access token validation failure. Invalid audience: expected ${resource}.`;
    return claims;
  }

  // ---- Graph ---------------------------------------------------------------------------

  async #graph(req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
    const claims = this.#authenticate(req, this.endpoints.graph);
    const path = `/${parts.slice(1).join("/")}`;
    const operation = `${req.method} ${path}`;
    if (typeof claims === "string") {
      this.#record({ tenantId: "unknown", service: "graph", operation, write: false }).status = 401;
      return send(res, 401, graphError("InvalidAuthenticationToken", claims));
    }
    const tenantId = claims.tid;
    const call = this.#record({ tenantId, service: "graph", operation, write: req.method !== "GET" });
    await this.#latency();
    if (
      await this.#applyFault(call, res, this.#takeFault(tenantId, operation) ?? this.#randomFault(), "odata")
    )
      return;
    if (parts[0] !== "v1.0" || req.method !== "GET" || path !== "/organization") {
      call.status = 404;
      return send(
        res,
        404,
        graphError(
          "Request_ResourceNotFound",
          `Resource '${path}' does not exist or one of its queried reference-property objects are not present.`,
        ),
      );
    }
    const state = this.#state(tenantId);
    call.status = 200;
    send(res, 200, {
      "@odata.context": `${this.endpoints.graph}/v1.0/$metadata#organization`,
      value: [
        {
          id: state.tenantId,
          displayName: state.displayName,
          tenantType: "AAD",
          countryLetterCode: "US",
          verifiedDomains: [
            {
              name: state.domain,
              type: "Managed",
              isDefault: true,
              isInitial: true,
              capabilities: "Email, OfficeCommunicationsOnline",
            },
          ],
        },
      ],
    });
  }

  // ---- Exchange ------------------------------------------------------------------------

  async #exchange(req: IncomingMessage, res: ServerResponse, parts: string[], url: URL): Promise<void> {
    const [api, version, pathTenant, action] = parts;
    if (
      api !== "adminapi" ||
      (version !== "beta" && version !== "v1.0") ||
      !pathTenant ||
      action !== "InvokeCommand" ||
      req.method !== "POST"
    ) {
      return send(res, 404, {
        error: { code: "NotFound", message: `No endpoint ${req.method} ${url.pathname}` },
      });
    }
    const tenantId = pathTenant.toLowerCase();
    let input: { CmdletInput?: { CmdletName?: unknown; Parameters?: unknown } };
    try {
      input = JSON.parse(await readBody(req));
    } catch {
      return send(
        res,
        400,
        exchangeError(400, "System.ArgumentException", "The request body is not valid JSON.", "Ex000001"),
      );
    }
    const cmdlet = typeof input.CmdletInput?.CmdletName === "string" ? input.CmdletInput.CmdletName : "";
    const parameters = (input.CmdletInput?.Parameters ?? {}) as Record<string, unknown>;
    const skip = Number(url.searchParams.get("$skiptoken") ?? "0");
    const pageSize = this.#settings.config.pageSize;
    const call = this.#record({
      tenantId,
      service: "exchange",
      operation: cmdlet || "(none)",
      write: isWriteCmdlet(cmdlet),
      parameters,
      ...(skip > 0 ? { page: Math.floor(skip / pageSize) + 1 } : {}),
    });
    const reply = (status: number, body: unknown) => {
      call.status = status;
      send(res, status, body);
    };
    const claims = this.#authenticate(req, this.endpoints.exchange);
    if (typeof claims === "string") return reply(401, { error: { code: "Unauthorized", message: claims } });
    if (claims.tid !== tenantId) {
      return reply(401, {
        error: {
          code: "Unauthorized",
          message: `The token was issued for tenant ${claims.tid}, not ${tenantId}.`,
        },
      });
    }
    const anchor = String(req.headers["x-anchormailbox"] ?? "");
    if (anchor.toLowerCase() !== `app:${EXCHANGE_ANCHOR_MAILBOX}@${tenantId}`.toLowerCase()) {
      return reply(
        400,
        exchangeError(
          400,
          "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
          "The X-AnchorMailbox header is missing or does not name this organization's system mailbox.",
          "Ex000002",
        ),
      );
    }
    if (!cmdlet || typeof parameters !== "object" || Array.isArray(parameters)) {
      return reply(
        400,
        exchangeError(
          400,
          "System.ArgumentException",
          "CmdletInput.CmdletName and CmdletInput.Parameters are required.",
          "Ex000003",
        ),
      );
    }
    await this.#latency();
    const fault = this.#takeFault(tenantId, cmdlet) ?? this.#randomFault();
    const dropAfter = typeof fault === "object" && fault.kind === "drop" && fault.afterApplying === true;
    if (!dropAfter && (await this.#applyFault(call, res, fault, "odata"))) return;
    const state = this.#state(tenantId);
    let rows: Record<string, unknown>[];
    try {
      rows = runCmdlet(state, cmdlet, parameters, this.#settings.config.validation);
    } catch (err) {
      if (!(err instanceof CmdletError)) throw err;
      return reply(err.status, exchangeError(err.status, err.exceptionType, err.message, err.errorId));
    }
    if (call.write) this.#settings.onChange?.();
    if (dropAfter) {
      await this.#applyFault(call, res, fault, "odata");
      return;
    }
    const base = `${this.endpoints.exchange}/adminapi/${version}/${pathTenant}`;
    const page = rows.slice(skip, skip + pageSize);
    const body: Record<string, unknown> = {
      "@odata.context": `${base}/$metadata#Collection(Exchange.GenericHashTable)`,
      "adminapi.warnings@odata.type": "#Collection(String)",
      "@adminapi.warnings": [],
      value: page,
    };
    if (skip + pageSize < rows.length)
      body["@odata.nextLink"] = `${base}/InvokeCommand?$skiptoken=${skip + pageSize}`;
    reply(200, body);
  }

  // ---- control API over HTTP -------------------------------------------------------------

  async #control(req: IncomingMessage, res: ServerResponse, parts: string[], url: URL): Promise<void> {
    const method = req.method ?? "GET";
    try {
      const body = method === "GET" || method === "DELETE" ? {} : JSON.parse((await readBody(req)) || "{}");
      const [first, id, sub] = parts;
      const ok = { ok: true };
      const route = `${method} ${first ?? ""}${id ? " :id" : ""}${sub ? ` ${sub}` : ""}`;
      switch (route) {
        case "GET ":
          return send(res, 200, {
            url: this.#url,
            endpoints: this.endpoints,
            clientId: this.#settings.clientId,
            tenants: [...this.#tenants.keys()],
          });
        case "GET calls":
          return send(res, 200, this.calls(url.searchParams.get("tenantId") ?? undefined));
        case "DELETE calls":
          this.resetCalls();
          return send(res, 200, ok);
        case "POST configure":
          this.configure(body);
          return send(res, 200, ok);
        case "POST reset":
          this.reset();
          return send(res, 200, ok);
        case "GET tenants :id":
          return send(res, 200, this.tenant(id!));
        case "GET tenants :id demo":
          return send(res, 200, this.demo(id!));
        case "PUT tenants :id consented":
          this.setConsented(id!, Boolean(body.value));
          return send(res, 200, ok);
        case "PUT tenants :id dehydrated":
          this.setDehydrated(id!, Boolean(body.value));
          return send(res, 200, ok);
        case "POST tenants :id fail-next":
          if (typeof body.operation !== "string" || !body.fault) break;
          this.failNext(id!, body.operation, body.fault, body.times);
          return send(res, 200, ok);
      }
      return send(res, 404, { error: `no control endpoint ${method} ${url.pathname}` });
    } catch (err) {
      return send(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

// ---- helpers ---------------------------------------------------------------------------

function snapshot(state: TenantState): TenantSnapshot {
  const address = (guid: string) => state.recipients.find((r) => r.guid === guid)?.primarySmtpAddress ?? guid;
  return structuredClone({
    tenantId: state.tenantId,
    domain: state.domain,
    consented: state.consented,
    dehydrated: state.dehydrated,
    journalingReportNdrTo: state.journalingReportNdrTo,
    connectors: state.connectors.map((c) => ({
      name: c.name,
      comment: c.comment,
      connectorType: c.connectorType,
      recipientDomains: c.recipientDomains,
      smartHosts: c.smartHosts,
      useMxRecord: c.useMxRecord,
      tlsSettings: c.tlsSettings,
      enabled: c.enabled,
      isValidated: c.isValidated,
      validations: c.validations,
    })),
    journalRules: state.journalRules.map((r) => ({
      name: r.name,
      journalEmailAddress: r.journalEmailAddress,
      scope: r.scope,
      recipient: r.recipient,
      enabled: r.enabled,
    })),
    groups: state.recipients
      .filter((r) => r.members !== undefined)
      .map((g) => ({
        name: g.name,
        primarySmtpAddress: g.primarySmtpAddress,
        recipientTypeDetails: g.recipientTypeDetails,
        members: (g.members ?? []).map(address),
        seeded: g.seeded === true,
      })),
    recipients: state.recipients.map((r) => ({
      name: r.name,
      primarySmtpAddress: r.primarySmtpAddress,
      recipientTypeDetails: r.recipientTypeDetails,
    })),
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "request-id": randomUUID(),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY)
      throw new HttpFailure(413, { error: { code: "RequestEntityTooLarge", message: "Body too large." } });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function nonNegative(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
  return n;
}

function statusCode(status: number): string {
  const codes: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
  };
  return codes[status] ?? `Http${status}`;
}

/** Exchange's OData error: the text is in details[].message as `ErrorId|ExceptionType|Text`. */
function exchangeError(status: number, exceptionType: string, message: string, errorId: string): unknown {
  return {
    error: {
      code: statusCode(status),
      message: "Error executing cmdlet",
      details: [{ code: "Context", target: "", message: `${errorId}|${exceptionType}|${message}` }],
      innererror: {
        message: "Error executing cmdlet",
        type: "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        stacktrace: "",
        internalexception: { message, type: exceptionType, stacktrace: "" },
      },
    },
  };
}

function graphError(code: string, message: string): unknown {
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString(),
        "request-id": randomUUID(),
        "client-request-id": randomUUID(),
      },
    },
  };
}

function entraError(error: string, description: string, code: number): unknown {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
  return {
    error,
    error_description: `${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: Number.isFinite(code) ? [code] : [],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

function aadstsCode(message: string): number {
  return Number(/AADSTS(\d+)/.exec(message)?.[1] ?? 0);
}

function signToken(claims: TokenClaims, key: Buffer): string {
  const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "HS256" })).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ ...claims, iat: Math.floor(Date.now() / 1000), uti: randomUUID(), ver: "1.0" }),
  ).toString("base64url");
  const sig = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

function verifyToken(token: string, key: Buffer): TokenClaims | undefined {
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

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
