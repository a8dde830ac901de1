/**
 * Exchange Online's real-world behaviours over time, each switchable (`configure()`,
 * `POST /_sim/configure`) and off by default except `ndrClearing`, whose default is what
 * Exchange's server code does. The settings live in {@link ExchangeBehaviours}; the
 * per-process bookkeeping (requests in flight, object creation times) in {@link BehaviourRuntime}.
 */
import type { DeniedCmdletAnswer, ErrorDetailForm, NdrClearing, SimulatorConfig } from "./types.ts";

/** The current value of every switch (see `SimulatorConfig` for their meaning). */
export interface ExchangeBehaviours {
  /** Assumed: public scripts sleep 2-15 s after New-OutboundConnector "for the connector to propagate" (docs/m365-fidelity.md). */
  replicationLagMs: number;
  /** Same lag counted in calls (assumed). */
  replicationLagCalls: number;
  replicationLagCmdlets: string[];
  /** Assumed: Validate-OutboundConnector connects to every smart host; big groups take long to create. */
  slowCmdlets: Record<string, number>;
  /** Assumed status and text (RPS era: 3 sessions per tenant, office-docs-powershell issue #4582). */
  maxConcurrentPerTenant: number;
  /** The five exception names of the ExchangeOnlineManagement module's `$RetryableExceptions`; the statuses are assumed (docs/m365-fidelity.md R6). */
  directoryErrorRate: number;
  /** Assumed: `@adminapi.errors` is not seen in public code (docs/m365-fidelity.md). */
  adminApiErrorRate: number;
  /** "never": Microsoft365DSC PR #5851; "while-no-rules": reported from decompiled server code, assumed (docs/m365-fidelity.md, C4). */
  ndrClearing: NdrClearing;
  /** Assumed: hydration takes "minutes to hours", not documented (docs/m365-fidelity.md). */
  hydrationDelayMs: number;
  /** 50: MicrosoftDocs/OfficeDocs-O365ServiceDescriptions issue #78 (Exchange Online limits). */
  maxJournalRules: number;
  validation: { lag: number; fail: boolean; refuseHosts: string[] };
  /** "not-allowed": the REST API's 401 (office-docs-powershell issues #7970, #8058); "not-recognized": PowerShell's text (docs/m365-fidelity.md R8). */
  deniedCmdletAnswer: DeniedCmdletAnswer;
  /** "pipe": CIPP-API New-ExoRequest.ps1, ExoHelper; "json": terraprovider/go-exoscc adminapi/invoke.go (docs/m365-fidelity.md E5). */
  errorDetailForm: ErrorDetailForm;
  /** ScubaGear EXORestHelper.psm1, go-exoscc adminapi/transport.go: "some tenants get redirected" (docs/m365-fidelity.md E8). */
  regionalRedirect: number;
  /** Rate-Limit-* header names: go-exoscc adminapi/invoke.go, ExoHelper; window and 429 assumed (docs/m365-fidelity.md E11). */
  rateLimit: { limit: number; windowMs: number } | null;
  /**
   * The Get- pages' caution: "a non-existent value for the Identity parameter returns *all* objects
   * as if you ran the Get- command without the Identity parameter" [ref Get-JournalRule]; public
   * code sees ManagementObjectNotFoundException for an unknown name, hence off by default
   * (docs/m365-fidelity.md E12, assumed).
   */
  identityMissReturnsAll: boolean;
}

export function defaultBehaviours(): ExchangeBehaviours {
  return {
    replicationLagMs: 0,
    replicationLagCalls: 0,
    replicationLagCmdlets: ["Validate-OutboundConnector"],
    slowCmdlets: {},
    maxConcurrentPerTenant: 0,
    directoryErrorRate: 0,
    adminApiErrorRate: 0,
    ndrClearing: "while-no-rules",
    hydrationDelayMs: 0,
    maxJournalRules: 50,
    validation: { lag: 0, fail: false, refuseHosts: [] },
    deniedCmdletAnswer: "not-allowed",
    errorDetailForm: "pipe",
    regionalRedirect: 0,
    rateLimit: null,
    identityMissReturnsAll: false,
  };
}

const NDR_CLEARING: readonly NdrClearing[] = ["allowed", "while-no-rules", "never"];

/** Merges the behaviour part of a configuration into `current`, checking every value. */
export function configureBehaviours(current: ExchangeBehaviours, config: SimulatorConfig): void {
  if (config.replicationLagMs !== undefined)
    current.replicationLagMs = nonNegative(config.replicationLagMs, "replicationLagMs");
  if (config.replicationLagCalls !== undefined)
    current.replicationLagCalls = Math.floor(nonNegative(config.replicationLagCalls, "replicationLagCalls"));
  if (config.replicationLagCmdlets !== undefined) {
    if (
      !Array.isArray(config.replicationLagCmdlets) ||
      config.replicationLagCmdlets.some((c) => typeof c !== "string")
    )
      throw new Error("replicationLagCmdlets must be a list of cmdlet names");
    current.replicationLagCmdlets = [...config.replicationLagCmdlets];
  }
  if (config.slowCmdlets !== undefined) {
    const slow: Record<string, number> = {};
    for (const [cmdlet, ms] of Object.entries(config.slowCmdlets ?? {})) {
      if (ms === undefined || ms === null) continue;
      slow[cmdlet.toLowerCase()] = nonNegative(ms, `slowCmdlets.${cmdlet}`);
    }
    current.slowCmdlets = slow;
  }
  if (config.maxConcurrentPerTenant !== undefined)
    current.maxConcurrentPerTenant = Math.floor(
      nonNegative(config.maxConcurrentPerTenant, "maxConcurrentPerTenant"),
    );
  if (config.directoryErrorRate !== undefined)
    current.directoryErrorRate = share(config.directoryErrorRate, "directoryErrorRate");
  if (config.adminApiErrorRate !== undefined)
    current.adminApiErrorRate = share(config.adminApiErrorRate, "adminApiErrorRate");
  if (config.ndrClearing !== undefined) {
    if (!NDR_CLEARING.includes(config.ndrClearing))
      throw new Error(`ndrClearing must be one of ${NDR_CLEARING.join(", ")}`);
    current.ndrClearing = config.ndrClearing;
  }
  if (config.hydrationDelayMs !== undefined)
    current.hydrationDelayMs = nonNegative(config.hydrationDelayMs, "hydrationDelayMs");
  if (config.maxJournalRules !== undefined)
    current.maxJournalRules = Math.max(1, Math.floor(nonNegative(config.maxJournalRules, "maxJournalRules")));
  if (config.deniedCmdletAnswer !== undefined) {
    if (config.deniedCmdletAnswer !== "not-allowed" && config.deniedCmdletAnswer !== "not-recognized")
      throw new Error("deniedCmdletAnswer must be not-allowed or not-recognized");
    current.deniedCmdletAnswer = config.deniedCmdletAnswer;
  }
  if (config.errorDetailForm !== undefined) {
    if (config.errorDetailForm !== "pipe" && config.errorDetailForm !== "json")
      throw new Error("errorDetailForm must be pipe or json");
    current.errorDetailForm = config.errorDetailForm;
  }
  if (config.regionalRedirect !== undefined)
    current.regionalRedirect = share(config.regionalRedirect, "regionalRedirect");
  if (config.identityMissReturnsAll !== undefined) {
    if (typeof config.identityMissReturnsAll !== "boolean")
      throw new Error("identityMissReturnsAll must be true or false");
    current.identityMissReturnsAll = config.identityMissReturnsAll;
  }
  if (config.rateLimit !== undefined) {
    const r = config.rateLimit;
    current.rateLimit =
      r === null
        ? null
        : {
            limit: Math.floor(nonNegative(r.limit, "rateLimit.limit")),
            windowMs: nonNegative(r.windowMs, "rateLimit.windowMs"),
          };
  }
  const v = config.validation;
  if (v?.lag !== undefined) current.validation.lag = nonNegative(v.lag, "validation.lag");
  if (v?.fail !== undefined) current.validation.fail = Boolean(v.fail);
  if (v?.refuseHosts !== undefined) {
    if (!Array.isArray(v.refuseHosts) || v.refuseHosts.some((h) => typeof h !== "string"))
      throw new Error("validation.refuseHosts must be a list of host names");
    current.validation.refuseHosts = v.refuseHosts.map((h) => h.toLowerCase());
  }
}

/**
 * The transient directory exceptions the Exchange Online PowerShell module retries on: its
 * `$RetryableExceptions` (public copies of the module's script, constants region: exactly these
 * five names). Which HTTP status carries them is assumed; each is answered in Exchange's usual
 * OData error body.
 */
export const DIRECTORY_EXCEPTIONS = [
  {
    type: "Microsoft.Exchange.Data.Directory.DCOverloadedException",
    message: "The domain controller is overloaded. Try again later.",
  },
  {
    type: "Microsoft.Exchange.Data.Directory.SuitabilityDirectoryException",
    message: "The domain controller isn't suitable for the operation. Try again later.",
  },
  {
    type: "Microsoft.Exchange.Data.Directory.ServerInMMException",
    message: "The server is in maintenance mode. Try again later.",
  },
  {
    type: "Microsoft.Exchange.Data.Directory.ADServerSettingsChangedException",
    message: "The directory server settings changed during the operation. Try again.",
  },
  {
    type: "Microsoft.Exchange.Data.Storage.StorageTransientException",
    message: "A transient storage error occurred. Try again later.",
  },
] as const;

/** Per-process bookkeeping of the behaviours (not persisted). */
export class BehaviourRuntime {
  readonly #inFlight = new Map<string, number>();
  readonly #created = new Map<string, { at: number; calls: number }>();

  /** Counts a request in flight for the tenant; false when it is beyond the limit (not counted). */
  enter(tenantId: string, limit: number): boolean {
    const n = this.#inFlight.get(tenantId) ?? 0;
    if (limit > 0 && n >= limit) return false;
    this.#inFlight.set(tenantId, n + 1);
    return true;
  }

  leave(tenantId: string): void {
    const n = (this.#inFlight.get(tenantId) ?? 1) - 1;
    if (n <= 0) this.#inFlight.delete(tenantId);
    else this.#inFlight.set(tenantId, n);
  }

  inFlight(tenantId: string): number {
    return this.#inFlight.get(tenantId) ?? 0;
  }

  created(guid: string, at: number): void {
    this.#created.set(guid, { at, calls: 0 });
    if (this.#created.size > 10_000) {
      const oldest = this.#created.keys().next().value;
      if (oldest !== undefined) this.#created.delete(oldest);
    }
  }

  /**
   * Whether `cmdlet` must not see the object yet: within `replicationLagMs` of its creation,
   * or among the first `replicationLagCalls` calls of an affected cmdlet about it.
   */
  notYetReplicated(b: ExchangeBehaviours, cmdlet: string, guid: string, now: number): boolean {
    if (!b.replicationLagCmdlets.some((c) => c.toLowerCase() === cmdlet.toLowerCase())) return false;
    const entry = this.#created.get(guid);
    if (!entry) return false;
    if (b.replicationLagMs > 0 && now - entry.at < b.replicationLagMs) return true;
    if (entry.calls < b.replicationLagCalls) {
      entry.calls += 1;
      return true;
    }
    return false;
  }

  reset(): void {
    this.#created.clear();
  }
}

function nonNegative(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number`);
  return n;
}

function share(value: unknown, name: string): number {
  const n = nonNegative(value, name);
  if (n > 1) throw new Error(`${name} must be between 0 and 1`);
  return n;
}
