/**
 * The simulator's HTTPS server: routing to each Microsoft surface (`identity.ts`, `graph.ts`,
 * `exchange/endpoint.ts`, `control.ts`), injected and random faults, the call log, and the
 * tenants it keeps. The surfaces reach it through {@link SimHost}.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  BehaviourRuntime,
  configureBehaviours,
  defaultBehaviours,
  type ExchangeBehaviours,
} from "./behaviours.ts";
import { handleControl } from "./control.ts";
import { handleExchange } from "./exchange/endpoint.ts";
import { exchangeError, statusCode } from "./exchange/invoke.ts";
import { isDehydrated } from "./exchange/organization.ts";
import { setAppRoles } from "./exchange/rbac.ts";
import { handleGraph } from "./graph.ts";
import { aadstsCode, entraError, HttpFailure, nonNegative, send, sleep } from "./http.ts";
import { IdentityService } from "./identity.ts";
import { seededRandom } from "./prng.ts";
import {
  type DemoMailboxes,
  demoMailboxes,
  newRecipient,
  newTenantState,
  type TenantState,
  upgradeTenantState,
} from "./state.ts";
import type {
  AppAccess,
  SimCall,
  SimFault,
  SimSignInUser,
  SimTamper,
  SimulatorConfig,
  SimulatorControl,
  SimulatorEndpoints,
  TenantSnapshot,
} from "./types.ts";

export { EXCHANGE_ANCHOR_MAILBOX } from "./exchange/endpoint.ts";

const MAX_CALLS = 200_000;

export interface ServerSettings {
  host: string;
  port: number;
  tls: { certPem: string; keyPem: string };
  /** The CA that issued `tls` (what the simulator's calls to itself trust, whatever the thread trusts). */
  caPem: string;
  clientId: string;
  clientSecret: string;
  /** Thumbprints (hex) and PEM of the client certificates the token endpoint accepts. */
  clientCertificates: { sha1: string; sha256: string; certPem: string }[];
  tokenKey: Buffer;
  tokenLifetimeSeconds: number;
  tenantDefaults: { consented: boolean; dehydrated: boolean };
  config: {
    latencyMs: number;
    seed: number;
    pageSize: number;
    faults: Required<NonNullable<SimulatorConfig["faults"]>>;
  };
  tenants: TenantState[];
  /** Called after a change to tenant state (persistence). */
  onChange?: () => void;
}

/** What the surfaces (identity, Graph, Exchange) use of the server. */
export interface SimHost {
  readonly url: string;
  readonly endpoints: SimulatorEndpoints;
  readonly settings: ServerSettings;
  readonly behaviours: ExchangeBehaviours;
  readonly runtime: BehaviourRuntime;
  readonly identity: IdentityService;
  state(tenantId: string): TenantState;
  setConsented(tenantId: string, consented: boolean): void;
  record(call: Omit<SimCall, "seq" | "at" | "status">): SimCall;
  latency(): Promise<void>;
  takeFault(tenantId: string, operation: string): SimFault | undefined;
  randomFault(): SimFault | undefined;
  /** The next draw of the seeded PRNG. */
  random(): number;
  applyFault(
    call: SimCall,
    res: ServerResponse,
    fault: SimFault | undefined,
    format: "odata" | "entra",
  ): Promise<boolean>;
  /** Tenant state changed (persistence). */
  changed(): void;
}

interface PendingFault {
  fault: SimFault;
  remaining: number;
}

export class SimulatorServer implements SimulatorControl, SimHost {
  readonly #settings: ServerSettings;
  readonly #server: Server;
  readonly #tenants = new Map<string, TenantState>();
  readonly #pending = new Map<string, PendingFault[]>();
  readonly #behaviours: ExchangeBehaviours = defaultBehaviours();
  readonly #runtime = new BehaviourRuntime();
  readonly #identity: IdentityService;
  #calls: SimCall[] = [];
  #seq = 0;
  #random: () => number;
  #url = "";

  constructor(settings: ServerSettings) {
    this.#settings = settings;
    for (const t of settings.tenants) this.#tenants.set(t.tenantId.toLowerCase(), upgradeTenantState(t));
    this.#random = seededRandom(settings.config.seed);
    this.#identity = new IdentityService(this);
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

  get settings(): ServerSettings {
    return this.#settings;
  }

  get clientId(): string {
    return this.#settings.clientId;
  }

  get behaviours(): ExchangeBehaviours {
    return this.#behaviours;
  }

  get runtime(): BehaviourRuntime {
    return this.#runtime;
  }

  get identity(): IdentityService {
    return this.#identity;
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

  random(): number {
    return this.#random();
  }

  changed(): void {
    this.#settings.onChange?.();
  }

  // ---- control API ---------------------------------------------------------------------

  tenant(tenantId: string): TenantSnapshot {
    return snapshot(this.state(tenantId));
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
    // Check everything first, so that a bad value changes nothing.
    const behaviours = structuredClone(this.#behaviours);
    configureBehaviours(behaviours, config);
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
    if (config.seed !== undefined) {
      current.seed = config.seed;
      this.#random = seededRandom(config.seed);
    }
    Object.assign(this.#behaviours, behaviours);
  }

  config(): ReturnType<SimulatorControl["config"]> {
    const c = this.#settings.config;
    return structuredClone({
      latencyMs: c.latencyMs,
      seed: c.seed,
      pageSize: c.pageSize,
      faults: c.faults,
      tokenLifetimeSeconds: this.#settings.tokenLifetimeSeconds,
      ...this.#behaviours,
    });
  }

  setConsented(tenantId: string, consented: boolean): void {
    const state = this.state(tenantId);
    state.consented = consented;
    if (consented) delete state.tokensRevokedAt;
    this.#settings.onChange?.();
  }

  setDehydrated(tenantId: string, dehydrated: boolean): void {
    const state = this.state(tenantId);
    state.dehydrated = dehydrated;
    state.hydratingUntil = null;
    this.#settings.onChange?.();
  }

  setSignInUser(tenantId: string, user: SimSignInUser | null): void {
    this.#identity.setSignInUser(tenantId, user);
  }

  registerRedirectUri(uri: string): void {
    this.#identity.registerRedirectUri(uri);
  }

  setAppRoles(tenantId: string, access: AppAccess): void {
    setAppRoles(this.state(tenantId), this.#settings.clientId, access);
    this.#settings.onChange?.();
  }

  tamper(tenantId: string, change: SimTamper): void {
    const state = this.state(tenantId);
    const same = (a: string | null | undefined, b: string) => (a ?? "").toLowerCase() === b.toLowerCase();
    const missing = (what: string): never => {
      throw new Error(`tamper: no ${what} in tenant ${tenantId}`);
    };
    const byAddress = (address: string) =>
      state.recipients.find(
        (r) =>
          same(r.primarySmtpAddress, address) ||
          r.emailAddresses.some((e) => same(e.replace(/^smtp:/i, ""), address)),
      );
    switch (change.action) {
      case "remove-journal-rule": {
        const rule = state.journalRules.find((r) => same(r.name, change.name)) ?? missing("journal rule");
        state.journalRules.splice(state.journalRules.indexOf(rule), 1);
        break;
      }
      case "disable-journal-rule": {
        const rule = state.journalRules.find((r) => same(r.name, change.name)) ?? missing("journal rule");
        rule.enabled = false;
        break;
      }
      case "set-connector": {
        const c = state.connectors.find((x) => same(x.name, change.name)) ?? missing("connector");
        Object.assign(c, change.changes);
        c.isValidated = false;
        c.whenChanged = new Date().toISOString();
        break;
      }
      case "remove-recipient": {
        const r = byAddress(change.address) ?? missing(`recipient ${change.address}`);
        state.recipients.splice(state.recipients.indexOf(r), 1);
        for (const g of state.recipients) if (g.members) g.members = g.members.filter((m) => m !== r.guid);
        break;
      }
      case "set-ndr-address":
        state.journalingReportNdrTo = change.address;
        break;
      case "revoke-consent":
        state.consented = false;
        state.tokensRevokedAt = Math.floor(Date.now() / 1000);
        break;
      case "remove-group-member": {
        const g = state.recipients.find((x) => x.members && same(x.name, change.name)) ?? missing("group");
        const member = byAddress(change.address) ?? missing(`recipient ${change.address}`);
        g.members = (g.members ?? []).filter((m) => m !== member.guid);
        break;
      }
    }
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
    this.#runtime.reset();
    this.#identity.reset();
    this.#calls = [];
    this.#settings.onChange?.();
  }

  demo(tenantId: string): DemoMailboxes {
    return demoMailboxes(tenantId);
  }

  addMailboxes(
    tenantId: string,
    options: { prefix: string; count: number; group?: { name: string; address: string; members: number } },
  ): string[] {
    const state = this.state(tenantId);
    const { domain } = demoMailboxes(tenantId);
    if (!/^[a-z0-9-]{1,40}$/.test(options.prefix) || !(options.count >= 0 && options.count <= 50_000))
      throw new Error("addMailboxes: prefix [a-z0-9-]{1,40}, count 0-50,000");
    const added = Array.from({ length: options.count }, (_, n) => {
      const address = `${options.prefix}-${n}@${domain}`;
      const alias = `${options.prefix}-${n}`;
      return newRecipient({ alias, name: alias, address, type: "UserMailbox", userPrincipalName: address });
    });
    state.recipients.push(...added);
    if (options.group) {
      const group = newRecipient({
        alias: options.group.address.split("@")[0]!,
        name: options.group.name,
        address: options.group.address,
        type: "MailUniversalDistributionGroup",
      });
      group.members = added.slice(0, options.group.members).map((r) => r.guid);
      state.recipients.push(group);
    }
    this.#settings.onChange?.();
    return added.map((r) => r.primarySmtpAddress);
  }

  state(tenantId: string): TenantState {
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
    if (parts[0] === "_sim") return handleControl(this, req, res, parts.slice(1), url);
    try {
      if (parts[0] === "graph") return await handleGraph(this, req, res, parts.slice(1));
      if (parts[0] === "exchange") return await handleExchange(this, req, res, parts.slice(1), url);
      return await this.#identity.handle(req, res, parts, url);
    } catch (err) {
      if (err instanceof HttpFailure) return send(res, err.status, err.body, err.headers);
      throw err;
    }
  }

  record(call: Omit<SimCall, "seq" | "at" | "status">): SimCall {
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

  async latency(): Promise<void> {
    const ms = this.#settings.config.latencyMs;
    if (ms > 0) await sleep(ms);
  }

  takeFault(tenantId: string, operation: string): SimFault | undefined {
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

  randomFault(): SimFault | undefined {
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
  async applyFault(
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
      case "adminapi-errors":
        // Answered by the Exchange endpoint (a 200 with @adminapi.errors); elsewhere, no fault.
        call.fault = undefined;
        return false;
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
}

// ---- helpers ---------------------------------------------------------------------------

function snapshot(state: TenantState): TenantSnapshot {
  const address = (guid: string) => state.recipients.find((r) => r.guid === guid)?.primarySmtpAddress ?? guid;
  const dehydrated = isDehydrated(state, Date.now());
  return structuredClone({
    tenantId: state.tenantId,
    domain: state.domain,
    consented: state.consented,
    dehydrated,
    hydrating: dehydrated && typeof state.hydratingUntil === "number",
    journalingReportNdrTo: state.journalingReportNdrTo,
    acceptedDomains: state.acceptedDomains.map((d) => ({
      domainName: d.domainName,
      domainType: d.domainType,
      default: d.default,
    })),
    connectors: state.connectors.map((c) => ({
      name: c.name,
      comment: c.comment,
      connectorType: c.connectorType,
      recipientDomains: c.recipientDomains,
      smartHosts: c.smartHosts,
      useMxRecord: c.useMxRecord,
      tlsSettings: c.tlsSettings,
      tlsDomain: c.tlsDomain,
      enabled: c.enabled,
      isTransportRuleScoped: c.isTransportRuleScoped,
      isValidated: c.isValidated,
      lastValidationTimestamp: c.lastValidationTimestamp,
      validationRecipients: c.validationRecipients,
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
      alias: r.alias,
      primarySmtpAddress: r.primarySmtpAddress,
      recipientTypeDetails: r.recipientTypeDetails,
      emailAddresses: r.emailAddresses,
      userPrincipalName: r.userPrincipalName ?? null,
    })),
    appExchangeAdministrator: state.appExchangeAdministrator,
    servicePrincipals: state.servicePrincipals,
    roleGroups: state.roleGroups.map((g) => ({ name: g.name, roles: g.roles, members: g.members })),
  });
}
