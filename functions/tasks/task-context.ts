/**
 * What every workflow task shares: its dependencies, the task input and result types, and the
 * few operations all tasks use (load the tenant for this run, write a change fenced by the run,
 * the tenant's Microsoft 365 with its writes in the audit trail, a step's context). Each task
 * module (`*-task.ts`) takes a `TaskContext`; `task-handlers.ts` builds it once per process.
 */

import type { Outcome } from "../../workflows/definition.ts";
import { recordingTenant } from "../adapters/m365/change-recorder.ts";
import type { ChangeLogStore } from "../domain/change-log.ts";
import type { WorkflowInput } from "../domain/engine.ts";
import { ConflictError, type ErrorInfo } from "../domain/errors.ts";
import type { M365Gateway, M365Tenant } from "../domain/m365.ts";
import { DEFAULT_PROVIDER, type ProviderProfile } from "../domain/provider.ts";
import type { StepContext } from "../domain/steps/index.ts";
import type { OffboardPart } from "../domain/steps/offboard.ts";
import type { ForwardedDiffs } from "../domain/steps/wave.ts";
import type { StoredTenant, TenantChange, TenantStore } from "../domain/store.ts";
import type { AnyStepName, RunStepName, StepName, TenantEvent } from "../domain/tenant.ts";

export interface TaskDeps {
  store: TenantStore;
  /**
   * The Microsoft 365 gateway, or how to get it: a function is called only by the tasks that
   * talk to Microsoft 365, so RecordOutcome does not read the app's secret at cold start.
   */
  m365: M365Gateway | (() => Promise<M365Gateway>);
  profile?: ProviderProfile;
  now?: () => string;
  /** Told of every step result (logging, metrics). */
  onStepResult?: (result: StepResult) => void;
  /** Told of every event the tasks record (metrics: onboardings started, succeeded, failed). */
  onEvent?: (event: TenantEvent) => void;
  /** The audit trail: every write in a customer's tenant is recorded here (none when absent). */
  changeLog?: ChangeLogStore;
  /** Told when a write could not be recorded in the audit trail (the write itself stands). */
  onChangeLogError?: (err: unknown) => void;
  /** Starts an onboarding run (drift remediation); without it drift is only reported. */
  startOnboarding?: (input: WorkflowInput) => Promise<void>;
  /** DRIFT_REMEDIATIONS_PER_DAY. @default 3 */
  remediationsPerDay?: number;
}

export interface StepResult {
  tenantId: string;
  step: RunStepName;
  outcome: "succeeded" | "failed" | "skipped";
  durationMs: number;
  changes: string[];
  error?: ErrorInfo;
  /** The raw text behind `error` (Microsoft's own): for logs only, never stored on the tenant. */
  rawMessage?: string;
}

/** The error object a Catch puts in the state (`ResultPath: $.error`). */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

export interface TaskInput {
  tenantId: string;
  run: number;
  outcome?: Outcome;
  step?: RunStepName;
  error?: CaughtError;
  part?: OffboardPart;
  /** The drift check's id (CheckDrift). */
  check?: string;
  /** step_failed of a task that ran several steps: those of them that did not succeed fail. */
  steps?: StepName[];
  /** The diffs CheckAccess's wave read (Configure, Journal). */
  diffs?: ForwardedDiffs;
}

/** What CheckAccess returns: the diffs for the writing tasks, or that the tenant awaits approval. */
export interface Plan {
  /** The diffs the wave read, for the next attempt of the steps after it (those that fit the state). */
  diffs: ForwardedDiffs;
  /** approval: required and no (still valid) approved plan: the tenant now awaits approval. */
  awaitingApproval?: boolean;
}

export type TaskHandler = (input: TaskInput) => Promise<unknown>;

/** What the task modules share, built once from `TaskDeps`. */
export interface TaskContext {
  deps: TaskDeps;
  store: TenantStore;
  profile: ProviderProfile;
  now: () => string;
  /** Every write of a task: conditional on the execution's run still being the tenant's. */
  write(tenantId: string, run: number, change: TenantChange): ReturnType<TenantStore["transition"]>;
  /** The tenant, as long as `run` is its current run: an older execution must change nothing. */
  load(tenantId: string, run: number): Promise<StoredTenant>;
  gateway(): Promise<M365Gateway>;
  /** The tenant's Microsoft 365, its writes recorded in the audit trail as `step`'s. */
  m365For(stored: StoredTenant, step: AnyStepName): Promise<M365Tenant>;
  /** The context of a step's attempt (its writes fenced by run and attempt). */
  contextFor(stored: StoredTenant, step: AnyStepName): Promise<StepContext>;
  /** queued -> running with the `started` event, plus `extra`, in one write. */
  markRunning(stored: StoredTenant, extra: TenantChange): Promise<StoredTenant>;
}

export function createTaskContext(deps: TaskDeps): TaskContext {
  const profile = deps.profile ?? DEFAULT_PROVIDER;
  const now = deps.now ?? (() => new Date().toISOString());
  const { store } = deps;
  const write = async (tenantId: string, run: number, change: TenantChange) => {
    const result = await store.transition(tenantId, { ...change, expectRun: run }, now());
    if (result.event) deps.onEvent?.(result.event);
    return result;
  };
  const load = async (tenantId: string, run: number): Promise<StoredTenant> => {
    const stored = await store.getTenant(tenantId);
    if (!stored) throw new ConflictError(`Tenant ${tenantId} is not registered.`);
    if (stored.internals.run !== run) {
      throw new ConflictError(
        `Tenant ${tenantId} has moved on to run ${stored.internals.run}; run ${run} is stale.`,
      );
    }
    return stored;
  };
  const gateway = async (): Promise<M365Gateway> =>
    typeof deps.m365 === "function" ? deps.m365() : deps.m365;
  const m365For = async (stored: StoredTenant, step: AnyStepName) => {
    const m365 = (await gateway()).tenant(stored.tenant.tenantId);
    const { changeLog } = deps;
    if (!changeLog) return m365;
    return recordingTenant(m365, {
      tenantId: stored.tenant.tenantId,
      run: stored.internals.run,
      step,
      requestedBy: stored.internals.requestedBy ?? "partner",
      now,
      record: (change) => changeLog.record(change),
      ...(deps.onChangeLogError ? { onRecordError: deps.onChangeLogError } : {}),
    });
  };
  const base = { deps, store, profile, now, write, load, gateway, m365For };
  return {
    ...base,
    contextFor: (stored, step) => stepContext(base, stored, step),
    markRunning: (stored, extra) => markRunning(base, stored, extra),
  };
}

type BaseContext = Omit<TaskContext, "contextFor" | "markRunning">;

/**
 * The context of a step's attempt. Its writes are fenced by run and by the step's attempt
 * count: once a retry of the step has started (attempts + 1), a timed-out attempt still
 * running can write nothing more, so it stops at its next write (e.g. the next batch of
 * memberships) instead of running beside its retry.
 */
async function stepContext(ctx: BaseContext, stored: StoredTenant, step: AnyStepName): Promise<StepContext> {
  const { write, store, now } = ctx;
  const { tenant, internals } = stored;
  const { tenantId } = tenant;
  const attempts = step && tenant.steps.find((s) => s.name === step)?.attempts;
  const fence: TenantChange = step && attempts !== undefined ? { expectAttempt: { step, attempts } } : {};
  const names = (n: string | readonly string[]) => (typeof n === "string" ? [n] : [...n]);
  return {
    request: tenant,
    profile: ctx.profile,
    m365: await ctx.m365For(stored, step),
    owned: internals.owned,
    ownedMembers: (limit) => store.listOwnedMembers(tenantId, limit),
    adopted: internals.adopted,
    objectIds: internals.objectIds,
    recordId: async (kind, name, id) => {
      await write(tenantId, internals.run, { ...fence, recordId: { kind, name, id } });
    },
    own: async (kind, name) => {
      await write(tenantId, internals.run, { ...fence, own: { [kind]: names(name) } });
    },
    disown: async (kind, name) => {
      await write(tenantId, internals.run, { ...fence, disown: { [kind]: names(name) } });
    },
    adopt: async (kind, name, previous) => {
      await write(tenantId, internals.run, { ...fence, adopt: { kind, name, previous } });
    },
    release: async (kind, name) => {
      await write(tenantId, internals.run, { ...fence, release: { kind, name } });
    },
    rememberPreviousNdrTo: async (value) => {
      await write(tenantId, internals.run, { ...fence, previousNdrTo: value });
    },
    recordNdrAddressSet: async (value) => {
      await write(tenantId, internals.run, { ...fence, ndrAddressSet: value });
    },
    progress: async (text) => {
      if (step) await write(tenantId, internals.run, { ...fence, steps: { [step]: { progress: text } } });
    },
    now,
  };
}

/**
 * queued -> running with the `started` event, plus `extra`, in one write; a duplicate start
 * finds the tenant running already and applies only `extra`.
 */
async function markRunning(
  ctx: BaseContext,
  stored: StoredTenant,
  extra: TenantChange,
): Promise<StoredTenant> {
  const { tenantId, status } = stored.tenant;
  const { run } = stored.internals;
  if (status === "running") {
    if (!extra.steps) return stored;
    return (await ctx.write(tenantId, run, { ...extra, expectStatus: ["running"] })).stored;
  }
  const change: TenantChange = {
    ...extra,
    expectStatus: ["queued"],
    status: "running",
    error: null,
    event: { type: "tenant.onboarding.started" },
  };
  return (await ctx.write(tenantId, run, change)).stored;
}
