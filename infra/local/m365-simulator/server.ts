/**
 * The simulator's HTTPS server: routing to each Microsoft surface (`identity.ts`, `graph.ts`,
 * `exchange/endpoint.ts`, `control.ts`), the call log, the tenants it keeps, and the control
 * API's methods over them (faults in faults.ts, tamper.ts, mailboxes.ts, snapshot.ts). The
 * surfaces reach it through {@link SimHost}.
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
import { setAppRoles } from "./exchange/rbac.ts";
import { answerFault, drawRandomFault, PendingFaults } from "./faults.ts";
import { handleGraph } from "./graph.ts";
import { HttpFailure, nonNegative, send, sleep } from "./http.ts";
import { IdentityService } from "./identity.ts";
import { createMailboxes } from "./mailboxes.ts";
import { seededRandom } from "./prng.ts";
import { snapshot } from "./snapshot.ts";
import {
  type DemoMailboxes,
  demoMailboxes,
  newTenantState,
  type TenantState,
  upgradeTenantState,
} from "./state.ts";
import { applyTamper } from "./tamper.ts";
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

export class SimulatorServer implements SimulatorControl, SimHost {
  readonly #settings: ServerSettings;
  readonly #server: Server;
  readonly #tenants = new Map<string, TenantState>();
  readonly #pending = new PendingFaults();
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

  userTokens(tenantId: string): string[] {
    return this.#identity.userTokens(tenantId);
  }

  registerRedirectUri(uri: string): void {
    this.#identity.registerRedirectUri(uri);
  }

  setAppRoles(tenantId: string, access: AppAccess): void {
    setAppRoles(this.state(tenantId), this.#settings.clientId, access);
    this.#settings.onChange?.();
  }

  tamper(tenantId: string, change: SimTamper): void {
    applyTamper(this.state(tenantId), tenantId, change);
    this.#settings.onChange?.();
  }

  failNext(tenantId: string, operation: string, fault: SimFault, times = 1): void {
    this.#pending.add(tenantId, operation, fault, times);
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
    const added = createMailboxes(this.state(tenantId), tenantId, options);
    this.#settings.onChange?.();
    return added;
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
      // The wall clock, as Exchange judges a Retry-After date and as the service computes it: the
      // monotonic clock plus the process's time origin drifts from it by milliseconds over a long
      // run (m365.test saw a retry "9 ms before" an HTTP-date Retry-After it had honoured).
      at: Date.now(),
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
    return this.#pending.take(tenantId, operation);
  }

  randomFault(): SimFault | undefined {
    return drawRandomFault(this.#settings.config.faults, () => this.#random());
  }

  /**
   * Applies an injected (or random) fault. Returns true when the answer has been given
   * (or the connection dropped); a `delay` fault waits and lets the call go on.
   */
  applyFault(
    call: SimCall,
    res: ServerResponse,
    fault: SimFault | undefined,
    format: "odata" | "entra",
  ): Promise<boolean> {
    return answerFault(call, res, fault, format, this.#settings.config.faults.retryAfterSeconds);
  }
}
