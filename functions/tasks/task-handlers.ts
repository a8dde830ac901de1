/**
 * The workflow's task logic, independent of Lambda: each task of `workflows/definition.ts`
 * maps to one of these (the one task function routes to them by the payload's task name). The Lambda entries in this folder wrap them
 * with middleware; the local engine calls them directly. They record every step's status,
 * attempts, timings and events in the store, and delegate the Microsoft 365 work to the
 * desired-state steps of `functions/domain/steps/`.
 */

import {
  CONFIGURE_STEPS,
  JOURNAL_STEPS,
  type Outcome,
  RETIRED_TASKS,
  type RetiredTaskName,
  type TaskName,
  WORKFLOW_RETRIED_ERRORS,
} from "../../workflows/definition.ts";
import { recordingTenant } from "../adapters/m365/change-recorder.ts";
import type { ChangeLogStore } from "../domain/change-log.ts";
import { DEFAULT_REMEDIATIONS_PER_DAY } from "../domain/drift.ts";
import { type WorkflowInput, workflowInput } from "../domain/engine.ts";
import {
  ConflictError,
  DehydratedOrganizationError,
  type ErrorInfo,
  ErrorName,
  PermissionMissingError,
  PlanStaleError,
  partnerMessage,
  StepFailedError,
  toErrorInfo,
} from "../domain/errors.ts";
import type { M365Gateway } from "../domain/m365.ts";
import { DEFAULT_PROVIDER, type ProviderProfile } from "../domain/provider.ts";
import { checkAccess } from "../domain/steps/check-access.ts";
import { type PlannedWrite, type StepDiff, sameWrites } from "../domain/steps/diff.ts";
import { APPLIES, DIFFS, type DiffContext, type StepContext } from "../domain/steps/index.ts";
import { type OffboardPart, offboard } from "../domain/steps/offboard.ts";
import {
  type ForwardedDiff,
  type ForwardedDiffs,
  forwardable,
  isStaleAnswer,
  readingOnce,
  settleWave,
  stillHolds,
  waveSteps,
} from "../domain/steps/wave.ts";
import type { StoredTenant, TenantChange, TenantStore } from "../domain/store.ts";
import type { AnyStepName, RunStepName, TenantEvent } from "../domain/tenant.ts";
import { applicableSteps, OFFBOARDING_STEP_NAMES, STEP_NAMES, type StepName } from "../domain/tenant.ts";
import { driftOutcome, failedDiff, findDifferences } from "./drift-check.ts";
import { handOverTask } from "./hand-over-task.ts";
import { HYDRATION_CLAIM_MS, HYDRATION_WAIT_HOURS, hydratingError, waitingPatch } from "./hydration-wait.ts";
import { recheckPermissions } from "./recheck-permissions.ts";
import { recheckAfterRemediation } from "./remediation-recheck.ts";

/** Whether the workflow retries the task that threw `err` (so a retry can still succeed). */
const retriedByWorkflow = (err: unknown): boolean =>
  err instanceof Error && WORKFLOW_RETRIED_ERRORS.has(err.name);

/** `stored` with the groups as loaded: a write's answer may leave out large ones, stored apart. */
const withGroups = (stored: StoredTenant, groups: StoredTenant["tenant"]["groups"]): StoredTenant =>
  groups && !stored.tenant.groups ? { ...stored, tenant: { ...stored.tenant, groups } } : stored;

/** Tries of the write that records a finished onboarding, and the first backoff (full jitter). */
const FINISH_ATTEMPTS = 4;
const FINISH_BACKOFF_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** One handler per task of the workflow definitions: the task function's routing table. */
export function createTaskHandlers(deps: TaskDeps): Record<TaskName | RetiredTaskName, TaskHandler> {
  const profile = deps.profile ?? DEFAULT_PROVIDER;
  const now = deps.now ?? (() => new Date().toISOString());
  const { store } = deps;
  /** Every write of a task: conditional on the execution's run still being the tenant's. */
  const write = async (tenantId: string, run: number, change: TenantChange) => {
    const result = await store.transition(tenantId, { ...change, expectRun: run }, now());
    if (result.event) deps.onEvent?.(result.event);
    return result;
  };

  /** The tenant, as long as `run` is its current run: an older execution must change nothing. */
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

  /** The tenant's Microsoft 365, its writes recorded in the audit trail as `step`'s. */
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

  /**
   * The context of a step's attempt. Its writes are fenced by run and by the step's attempt
   * count: once a retry of the step has started (attempts + 1), a timed-out attempt still
   * running can write nothing more, so it stops at its next write (e.g. the next batch of
   * memberships) instead of running beside its retry.
   */
  const contextFor = async (stored: StoredTenant, step: AnyStepName): Promise<StepContext> => {
    const { tenant, internals } = stored;
    const { tenantId } = tenant;
    const attempts = step && tenant.steps.find((s) => s.name === step)?.attempts;
    const fence: TenantChange = step && attempts !== undefined ? { expectAttempt: { step, attempts } } : {};
    const names = (n: string | readonly string[]) => (typeof n === "string" ? [n] : [...n]);
    return {
      request: tenant,
      profile,
      m365: await m365For(stored, step),
      owned: internals.owned,
      ownedMembers: (limit) => store.listOwnedMembers(tenantId, limit),
      adopted: internals.adopted,
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
  };

  /**
   * Runs a step; a write refused because the organisation is dehydrated gets
   * Enable-OrganizationCustomization once per tenant (recorded, never run again: it cannot be
   * undone), then the step is retried by the workflow with backoff for up to 48 hours while
   * Exchange applies it (OrganizationHydratingError).
   */
  const hydrating = async <T>(stored: StoredTenant, ctx: StepContext, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof DehydratedOrganizationError)) throw err;
      throw hydratingError(await enableCustomizationOnce(stored, ctx), err);
    }
  };

  /**
   * Runs Enable-OrganizationCustomization once per tenant: the step that claims it in the store
   * runs it; concurrent steps that lose the claim do not, and later retries do not while the
   * claim stands. A failed call gives the claim back. A claim older than the hour Exchange may
   * take is replaced (a crash between the claim and the call): the cmdlet answers "already
   * enabled" when it did run, which counts as success. Returns when it was run.
   */
  const enableCustomizationOnce = async (stored: StoredTenant, ctx: StepContext): Promise<string> => {
    const { tenantId } = stored.tenant;
    const { run } = stored.internals;
    const current = (await load(tenantId, run)).internals.customizationEnabledAt;
    if (current && Date.now() - Date.parse(current) < HYDRATION_CLAIM_MS) return current;
    const at = now();
    try {
      await write(tenantId, run, {
        customizationEnabledAt: at,
        ...(current ? { customizationClaimWas: current } : {}),
      });
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return (await load(tenantId, run)).internals.customizationEnabledAt ?? at;
    }
    try {
      await ctx.m365.exchange.enableOrganizationCustomization();
    } catch (err) {
      // Not known to have run: give the claim back so that the workflow's retry sends it again.
      // Sending it twice is harmless (Exchange answers "already enabled", which is success);
      // what must never happen is running it without a refused write, or twice at once.
      await write(tenantId, run, { customizationEnabledAt: null, customizationClaimWas: at }).catch(
        () => undefined,
      );
      throw err;
    }
    return at;
  };

  /** The step's record on the tenant. */
  const stepOf = (stored: StoredTenant, step: StepName) => stored.tenant.steps.find((s) => s.name === step);

  const runningPatch = () => ({
    status: "running" as const,
    countAttempt: true,
    startedAt: now(),
    error: null,
    progress: null,
    waitingUntil: null,
  });

  /** Records a step's failed attempt: the error stays visible while the workflow retries; the Catch marks it failed. */
  const stepFailed = async (
    stored: StoredTenant,
    step: StepName,
    started: number,
    err: unknown,
    final = false,
  ) => {
    const error = toErrorInfo(err);
    // A permission error also records what is missing, for `awaiting_permissions`.
    const missing =
      err instanceof PermissionMissingError
        ? { missingPermissions: err.missing.map((m) => ({ cmdlet: m.cmdlet, role: m.role })) }
        : {};
    // `final`: an error the workflow does not retry fails the step now (its siblings may still be
    // retried; a retry of the task does not run it again).
    const change: TenantChange = final
      ? {
          expectStatus: ["running"],
          steps: { [step]: { status: "failed", finishedAt: now(), error } },
          event: { type: "tenant.onboarding.step_failed", step, error },
        }
      : { steps: { [step]: { error, ...waitingPatch(err) } } };
    await write(stored.tenant.tenantId, stored.internals.run, { ...change, ...missing }).catch(
      () => undefined,
    );
    deps.onStepResult?.({
      tenantId: stored.tenant.tenantId,
      step,
      outcome: "failed",
      durationMs: Date.now() - started,
      changes: [],
      error,
      ...(err instanceof Error && { rawMessage: err.message }),
    });
  };

  /** Records a step's success (fenced by its attempt) with its event. */
  const stepSucceeded = async (stored: StoredTenant, step: StepName, started: number, changes: string[]) => {
    const attempts = stepOf(stored, step)?.attempts;
    await write(stored.tenant.tenantId, stored.internals.run, {
      ...(attempts !== undefined && { expectAttempt: { step, attempts } }),
      expectStatus: ["running"],
      steps: { [step]: { status: "succeeded", finishedAt: now(), error: null, progress: null } },
      event: { type: "tenant.onboarding.step_succeeded", step },
    });
    deps.onStepResult?.({
      tenantId: stored.tenant.tenantId,
      step,
      outcome: "succeeded",
      durationMs: Date.now() - started,
      changes,
    });
  };

  const skipped = (tenantId: string, step: StepName) =>
    deps.onStepResult?.({ tenantId, step, outcome: "skipped", durationMs: 0, changes: [] });

  /**
   * One step's writes. Its first attempt applies the diff CheckAccess's wave read (`forwarded`),
   * without reading again; a retry, or a step whose diff did not come forward, compares afresh.
   * A write answering that the state changed since the wave (not found, exists already) makes
   * the step read again and compare once more. A run applying an approved plan makes exactly the
   * approved writes, or none (PLAN_STALE).
   */
  const applyStep = async (
    stored: StoredTenant,
    step: StepName,
    forwarded: ForwardedDiff | undefined,
    ready: () => void,
  ) => {
    const ctx = { ...(await contextFor(stored, step)), ready };
    const approved = stored.internals.approvedPlan;
    const checked = (diff: StepDiff) => {
      if (
        approved &&
        !sameWrites(
          diff.writes,
          approved.filter((w) => w.step === step),
        )
      ) {
        throw new PlanStaleError(
          `The tenant changed after the plan was approved: step ${step} would now make other writes than approved, so it wrote nothing. Retry the tenant for a new plan.`,
        );
      }
      return diff;
    };
    // What the wave read, while it still holds (this attempt, fresh, and what it depends on).
    const read =
      forwarded && stillHolds(forwarded, (s) => stepOf(stored, s)?.attempts, step, now())
        ? forwarded.diff
        : undefined;
    return hydrating(stored, ctx, async () => {
      if (!read) return { outcome: await APPLIES[step](ctx, checked(await DIFFS[step](ctx))), stored };
      try {
        return { outcome: await APPLIES[step](ctx, checked(read)), stored };
      } catch (err) {
        if (!isStaleAnswer(err)) throw err;
        // The tenant changed since the wave: another attempt, which reads first. Counted, so that
        // what was predicted from this step's diff (validation after the connector) is read again.
        const attempts = stepOf(stored, step)?.attempts ?? 0;
        const { stored: latest } = await write(stored.tenant.tenantId, stored.internals.run, {
          expectAttempt: { step, attempts },
          expectStatus: ["running"],
          steps: { [step]: { countAttempt: true } },
        });
        const again = { ...(await contextFor(latest, step)), ready };
        return { outcome: await APPLIES[step](again, checked(await DIFFS[step](again))), stored: latest };
      }
    });
  };

  /**
   * Runs onboarding steps after check-access. `side-by-side` (Configure: connector,
   * journal-settings and groups): one write marks them running. `in-order` (Journal: validation,
   * then the rules): a step starts once the one before it is ready (it called `ctx.ready()`, or
   * succeeded), and is marked running then; one whose predecessor failed does not start. Each
   * records its own success or error, and the task fails only after every started step settled,
   * with an error the workflow retries if any step has one (so a sibling's retryable fault is
   * retried even when another step failed for good; the retry skips what succeeded).
   */
  const runSteps =
    (steps: readonly StepName[], order: "side-by-side" | "in-order", last = false): TaskHandler =>
    async (input) => {
      const loaded = await load(input.tenantId, input.run);
      const { groups } = loaded.tenant;
      const applicable = applicableSteps(loaded.tenant);
      // A step that failed for good earlier in this run is not run again (its error is recorded).
      const failedBefore = steps.filter((step) => stepOf(loaded, step)?.status === "failed");
      const todo = steps.filter(
        (step) =>
          applicable.has(step) &&
          stepOf(loaded, step)?.status !== "succeeded" &&
          !failedBefore.includes(step),
      );
      for (const step of steps) if (!todo.includes(step)) skipped(input.tenantId, step);
      // The workflow's last task records the onboarding's success itself (no RecordOutcome task).
      const finish = async () => {
        if (!last) return null;
        const change = await outcomeChange(
          { ...input, outcome: "succeeded" },
          (id) => load(id, input.run),
          gateway,
          now,
        );
        // Every step is done: a failing store write is tried again here (as RecordOutcome's Retry
        // would), not left to the workflow, which would fail an onboarding that succeeded.
        for (let attempt = 1; ; attempt++) {
          try {
            await write(input.tenantId, input.run, change);
            await recheckAfterRemediation(loaded, () =>
              checkDrift({ tenantId: input.tenantId, run: input.run }),
            );
            return null;
          } catch (err) {
            // Someone moved the tenant on (a newer run): this outcome is stale, as in RecordOutcome.
            if (err instanceof ConflictError) return null;
            if (attempt >= FINISH_ATTEMPTS) throw err;
            await sleep(FINISH_BACKOFF_MS * 2 ** (attempt - 1) * Math.random());
          }
        }
      };
      const stopIfFailedBefore = () => {
        const step = failedBefore[0];
        if (step === undefined) return;
        const error = stepOf(loaded, step)?.error;
        throw new StepFailedError(
          error?.code ?? "INTERNAL_ERROR",
          `Step ${step} failed in this run: ${error?.message ?? "see the tenant's steps"}`,
        );
      };
      if (todo.length === 0) {
        stopIfFailedBefore();
        return finish();
      }
      const started = Date.now();
      /** Marks steps running (one write); the groups as loaded (a write's answer may leave out large ones). */
      const markRunningSteps = async (names: readonly StepName[]) => {
        const { stored } = await write(input.tenantId, input.run, {
          steps: Object.fromEntries(names.map((step) => [step, runningPatch()])),
          expectStatus: ["running"],
        });
        return withGroups(stored, groups);
      };
      const first = order === "side-by-side" ? todo : todo.slice(0, 1);
      const marked = await markRunningSteps(first);
      let previousReady: Promise<void> = Promise.resolve();
      const runs = todo.map((step) => {
        let ready!: () => void;
        let notReady!: (err: unknown) => void;
        const readyNow = new Promise<void>((resolve, reject) => {
          ready = resolve;
          notReady = reject;
        });
        readyNow.catch(() => undefined);
        const after = order === "in-order" ? previousReady : Promise.resolve();
        previousReady = readyNow;
        const run = async () => {
          try {
            await after;
          } catch (err) {
            notReady(err);
            return; // the step before failed: this one never started
          }
          const stored = first.includes(step) ? marked : await markRunningSteps([step]);
          try {
            const applied = await applyStep(stored, step, input.diffs?.[step], ready);
            ready();
            await stepSucceeded(applied.stored, step, started, applied.outcome.changes);
          } catch (err) {
            notReady(err);
            await stepFailed(stored, step, started, err, !retriedByWorkflow(err));
            throw err;
          }
        };
        return run();
      });
      const results = await Promise.allSettled(runs);
      const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      if (failures.length > 0) throw failures.find(retriedByWorkflow) ?? failures[0];
      stopIfFailedBefore();
      return finish();
    };

  /**
   * CheckAccess: the token, Graph GET /organization, the permission preflight and the NDR check,
   * and in the same wave of reads every remaining step's comparison (each read made once). Stops
   * the run for consent, permissions or approval; otherwise returns which optional steps apply
   * and the diffs that go forward to the writing tasks.
   */
  const checkAccessTask: TaskHandler = async (input) => {
    let stored = await load(input.tenantId, input.run);
    const { groups } = stored.tenant;
    const applicable = applicableSteps(stored.tenant);
    const accessDone = stepOf(stored, "check-access")?.status === "succeeded";
    const started = Date.now();
    // The workflow's first task also moves the tenant to running, in the same write.
    stored = await markRunning(stored, accessDone ? {} : { steps: { "check-access": runningPatch() } });
    stored = withGroups(stored, groups);
    if (accessDone) skipped(input.tenantId, "check-access");
    const ctx = await contextFor(stored, "check-access");
    const wave: StepContext = { ...ctx, m365: readingOnce(ctx.m365) };
    const later = STEP_NAMES.filter(
      (step) =>
        step !== "check-access" && applicable.has(step) && stepOf(stored, step)?.status !== "succeeded",
    );
    // Every step's comparison for a plan to approve; else a step with large groups reads for itself.
    const reading = stored.tenant.approval === "required" ? later : waveSteps(stored.tenant, later);
    const readAt = now();
    const [access, ...reads] = await Promise.allSettled([
      accessDone ? Promise.resolve() : checkAccess(wave),
      ...reading.map((step) => DIFFS[step](wave)),
    ]);
    if (access?.status === "rejected") {
      await stepFailed(stored, "check-access", started, access.reason);
      throw access.reason;
    }
    const { diffs, failures } = settleWave(
      ctx,
      Object.fromEntries(reading.map((step, i) => [step, reads[i] as PromiseSettledResult<StepDiff>])),
    );
    if (stored.tenant.approval === "required") {
      const plan = later.flatMap(
        (step) =>
          diffs[step]?.writes ??
          failedDiff(step, failures[step] ?? new Error(`The comparison of step ${step} is missing.`)).writes,
      );
      if (await awaitApproval(stored, plan)) {
        deps.onStepResult?.({
          tenantId: input.tenantId,
          step: "check-access",
          outcome: "succeeded",
          durationMs: Date.now() - started,
          changes: [],
        });
        return { diffs: {}, awaitingApproval: true } satisfies Plan;
      }
    }
    if (!accessDone) await stepSucceeded(stored, "check-access", started, []);
    return {
      diffs: forwardable(diffs, readAt, (step) => (stepOf(stored, step)?.attempts ?? 0) + 1),
    } satisfies Plan;
  };

  /**
   * approval: required, after check-access: the plan from the live tenant (reads only). Without
   * an approved plan, or when the approved one no longer matches it, the tenant stops in
   * `awaiting_approval` with this plan and nothing is written; returns whether it stopped.
   */
  const awaitApproval = async (stored: StoredTenant, plan: PlannedWrite[]): Promise<boolean> => {
    const approved = stored.internals.approvedPlan;
    if (approved && sameWrites(plan, approved)) return false;
    const stale = approved
      ? {
          code: "PLAN_STALE",
          message:
            "The tenant changed after the plan was approved; nothing was written. Review the new plan and approve it.",
        }
      : undefined;
    await write(stored.tenant.tenantId, stored.internals.run, {
      expectStatus: ["running"],
      status: "awaiting_approval",
      plan,
      approvedPlan: null,
      error: stale ?? null,
      steps: { "check-access": { status: "succeeded", finishedAt: now(), error: null } },
      event: { type: "tenant.onboarding.awaiting_approval", ...(stale ? { error: stale } : {}) },
    });
    return true;
  };

  /**
   * A drift check: every step's comparison, reads only; the result recorded on the tenant, an
   * event when the state changed, and with `onDrift: remediate` an onboarding run. A tenant that
   * moved on (another run, no longer `succeeded`) is left alone.
   */
  const checkDrift: TaskHandler = async (input) => {
    const stored = await store.getTenant(input.tenantId);
    if (stored?.tenant.status !== "succeeded") return null;
    if (input.run !== 0 && stored.internals.run !== input.run) return null;
    const run = stored.internals.run;
    const ctx: DiffContext = {
      request: stored.tenant,
      profile,
      m365: await m365For(stored, "check-access"),
      owned: stored.internals.owned,
      adopted: stored.internals.adopted,
    };
    const differences = await findDifferences(ctx);
    const perDay = deps.startOnboarding ? (deps.remediationsPerDay ?? DEFAULT_REMEDIATIONS_PER_DAY) : 0;
    const outcome = driftOutcome(stored, differences, now(), perDay);
    let after: StoredTenant;
    try {
      after = (await write(input.tenantId, run, outcome.change)).stored;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return null;
    }
    if (outcome.remediate && deps.startOnboarding) {
      try {
        await deps.startOnboarding(workflowInput(after));
      } catch (err) {
        const error = {
          code: "WORKFLOW_START_FAILED",
          message: "The onboarding workflow could not be started to repair drift; retry the tenant.",
        };
        await write(input.tenantId, after.internals.run, {
          expectStatus: ["queued"],
          status: "failed",
          error,
          event: { type: "tenant.onboarding.failed", error },
        }).catch(() => undefined);
        throw err;
      }
    }
    return null;
  };

  /**
   * queued -> running with the `started` event, plus `extra`, in one write; a duplicate start
   * finds the tenant running already and applies only `extra`.
   */
  const markRunning = async (stored: StoredTenant, extra: TenantChange): Promise<StoredTenant> => {
    const { tenantId, status } = stored.tenant;
    const { run } = stored.internals;
    if (status === "running") {
      if (!extra.steps) return stored;
      return (await write(tenantId, run, { ...extra, expectStatus: ["running"] })).stored;
    }
    const change: TenantChange = {
      ...extra,
      expectStatus: ["queued"],
      status: "running",
      error: null,
      event: { type: "tenant.onboarding.started" },
    };
    return (await write(tenantId, run, change)).stored;
  };

  const recordOutcome: TaskHandler = async (input) => {
    try {
      if (input.outcome === "step_failed" && input.steps) {
        // A task of several steps: each that did not succeed fails with its own last error.
        const { tenant } = await load(input.tenantId, input.run);
        for (const s of tenant.steps) {
          if (!(input.steps as readonly string[]).includes(s.name)) continue;
          if (s.status !== "running") continue; // a step that never started stays pending
          const error = s.error ?? caughtToErrorInfo(input.error);
          const step = s.name as StepName;
          await write(input.tenantId, input.run, {
            expectStatus: ["running"],
            steps: { [step]: { status: "failed", finishedAt: now(), error } },
            event: { type: "tenant.onboarding.step_failed", step, error },
          });
        }
        return null;
      }
      const change = await outcomeChange(input, (id) => load(id, input.run), gateway, now);
      await write(input.tenantId, input.run, change);
    } catch (err) {
      // Someone moved the tenant on (a newer run, an offboarding): this outcome is stale.
      if (!(err instanceof ConflictError)) throw err;
    }
    return null;
  };

  const offboardPart: TaskHandler = async (input) => {
    const step = input.part;
    if (!step || !(OFFBOARDING_STEP_NAMES as readonly string[]).includes(step)) {
      throw new ConflictError("Offboard needs one of offboarding's steps as its part.");
    }
    const stored = (
      await write(input.tenantId, input.run, {
        expectStatus: ["offboarding"],
        steps: { [step]: { status: "running", countAttempt: true, startedAt: now(), error: null } },
      })
    ).stored;
    const ctx = await contextFor(stored, step);
    try {
      const outcome = await hydrating(stored, ctx, () =>
        offboard(
          {
            ...ctx,
            previousNdrTo: stored.internals.previousNdrTo,
            ndrAddressSet: stored.internals.ndrAddressSet,
          },
          step,
        ),
      );
      await write(input.tenantId, input.run, {
        expectStatus: ["offboarding"],
        steps: {
          [step]: { status: outcome.skipped ? "skipped" : "succeeded", finishedAt: now(), error: null },
        },
        ...(outcome.ndrAddressKept ? { ndrAddressKept: true } : {}),
      });
      return null;
    } catch (err) {
      // The last error stays visible while the workflow retries; the outcome marks it failed.
      await write(input.tenantId, input.run, { steps: { [step]: { error: toErrorInfo(err) } } }).catch(
        () => undefined,
      );
      throw err;
    }
  };

  return {
    HandOver: handOverTask({ load, write, markRunning, contextFor, now, onStepResult: deps.onStepResult }),
    CheckAccess: checkAccessTask,
    RecheckPermissions: recheckPermissions({ store, gateway, profile, now }),
    Configure: runSteps(CONFIGURE_STEPS, "side-by-side"),
    Journal: runSteps(JOURNAL_STEPS, "in-order", true),
    RecordOutcome: recordOutcome,
    Offboard: offboardPart,
    CheckDrift: checkDrift,
    // Executions started before a deploy (the previous definition's tasks): each step on its own.
    ...(Object.fromEntries(
      Object.entries(RETIRED_TASKS).map(([task, steps]) => [task, runSteps(steps, "side-by-side")]),
    ) as Record<RetiredTaskName, TaskHandler>),
  };
}

/** Error codes for failures that did not come from our own named errors. */
const STEP_TIMEOUT: ErrorInfo = {
  code: "STEP_TIMEOUT",
  message: "The step took too long and was stopped; retry the tenant.",
};
const ENGINE_ERRORS: Readonly<Record<string, ErrorInfo>> = {
  "States.Timeout": STEP_TIMEOUT,
  // Lambda ended the task function at its time limit (or it died) before it could answer.
  "Sandbox.Timedout": STEP_TIMEOUT,
  "Lambda.Unknown": STEP_TIMEOUT,
};

/** Turns a caught workflow error back into the `{code, message}` a person can act on. */
export function caughtToErrorInfo(caught: CaughtError | undefined): ErrorInfo {
  if (!caught) return { code: "INTERNAL_ERROR", message: "The workflow failed." };
  let message = caught.Cause ?? "";
  let name = caught.Error;
  // Lambda reports `{"errorType","errorMessage","trace"}` as the Cause; the local engine the message.
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string; errorType?: string };
    if (typeof parsed.errorMessage === "string") message = parsed.errorMessage;
    if (typeof parsed.errorType === "string") name = parsed.errorType;
  } catch {
    // a plain message
  }
  const known = CODES_BY_NAME.get(name);
  if (known) {
    if (name === ErrorName.ValidationPending) {
      return {
        code: known,
        message: `${message} Exchange still could not find the connector after 15 minutes; retry the tenant.`,
      };
    }
    if (name === ErrorName.Hydrating) {
      return {
        code: known,
        message: `${message} It was still not applied after ${HYDRATION_WAIT_HOURS} hours; retry the tenant later.`,
      };
    }
    return { code: known, message: partnerMessage(known, message) };
  }
  return (
    ENGINE_ERRORS[name] ?? {
      code: "INTERNAL_ERROR",
      message: "An unexpected error occurred; ops can retry the tenant.",
    }
  );
}

const CODES_BY_NAME = new Map<string, string>([
  [ErrorName.Throttled, "M365_THROTTLED"],
  [ErrorName.Transient, "M365_UNAVAILABLE"],
  [ErrorName.NotFound, "M365_NOT_FOUND"],
  [ErrorName.ConsentRequired, "CONSENT_REQUIRED"],
  [ErrorName.PermissionMissing, "M365_PERMISSION_MISSING"],
  [ErrorName.AccessDenied, "M365_ACCESS_DENIED"],
  [ErrorName.InvalidRequest, "M365_INVALID_REQUEST"],
  [ErrorName.DehydratedOrganization, "ORGANIZATION_DEHYDRATED"],
  [ErrorName.ValidationPending, "CONNECTOR_VALIDATION_PENDING"],
  [ErrorName.ValidationFailed, "CONNECTOR_VALIDATION_FAILED"],
  [ErrorName.Hydrating, "ORGANIZATION_HYDRATING"],
  [ErrorName.AmbiguousIdentity, "M365_AMBIGUOUS_IDENTITY"],
  [ErrorName.Configuration, "M365_CONFIGURATION"],
  [ErrorName.InvalidNdrRecipient, "INVALID_NDR_ADDRESS"],
  [ErrorName.InvalidGroupMember, "INVALID_GROUP_MEMBER"],
  [ErrorName.StateLimit, "STATE_LIMIT_EXCEEDED"],
  [ErrorName.Conflict, "CONFLICT"],
  [ErrorName.PlanStale, "PLAN_STALE"],
]);

async function outcomeChange(
  input: TaskInput,
  load: (tenantId: string) => Promise<StoredTenant>,
  m365: () => Promise<M365Gateway>,
  now: () => string,
): Promise<TenantChange> {
  const error = input.error ? caughtToErrorInfo(input.error) : undefined;
  switch (input.outcome) {
    case "step_failed": {
      if (!input.step) throw new ConflictError("step_failed needs a step.");
      return {
        expectStatus: ["running"],
        steps: {
          [input.step]: { status: "failed", finishedAt: now(), error: error ?? null },
        },
        event: { type: "tenant.onboarding.step_failed", step: input.step, ...(error ? { error } : {}) },
      };
    }
    case "awaiting_consent": {
      const consent = error ?? { code: "CONSENT_REQUIRED", message: "Admin consent is required." };
      return {
        expectStatus: ["running"],
        status: "awaiting_consent",
        consentUrl: (await m365()).consentUrl(input.tenantId),
        error: {
          code: "CONSENT_REQUIRED",
          message: `A global admin of the tenant must grant consent at the consentUrl, then retry. (${consent.message})`,
        },
        steps: { "check-access": { status: "failed", finishedAt: now(), error: consent } },
        event: { type: "tenant.onboarding.awaiting_consent", error: consent },
      };
    }
    case "awaiting_permissions": {
      const missing = error ?? {
        code: "M365_PERMISSION_MISSING",
        message: "The app may not run some cmdlets in this tenant.",
      };
      return {
        expectStatus: ["running"],
        status: "awaiting_permissions",
        error: {
          code: "M365_PERMISSION_MISSING",
          // The cmdlets and roles are in missingPermissions and the step's error: not repeated here.
          message: `The app lacks Exchange roles in this tenant (missingPermissions). The customer's admin grants them once in PowerShell with the script of GET /v1/tenants/${input.tenantId}/permissions-script (or assigns the app the Exchange Administrator role); then retry.`,
        },
        steps: { "check-access": { status: "failed", finishedAt: now(), error: missing } },
        event: { type: "tenant.onboarding.awaiting_permissions", error: missing },
      };
    }
    case "succeeded":
      return {
        expectStatus: ["running"],
        status: "succeeded",
        error: null,
        consentUrl: null,
        missingPermissions: null,
        approvedPlan: null,
        event: { type: "tenant.onboarding.succeeded" },
      };
    case "failed": {
      const { tenant } = await load(input.tenantId);
      const firstFailure = tenant.steps.find((s) => s.status === "failed")?.error;
      const reason = firstFailure ??
        error ?? { code: "INTERNAL_ERROR", message: "The workflow failed; ops can retry the tenant." };
      // A step Exchange refused for want of a role (the preflight could not see it, e.g. a
      // role-bound parameter): the tenant waits for the grant, as after check-access.
      if (reason.code === "M365_PERMISSION_MISSING" && tenant.missingPermissions?.length) {
        return {
          expectStatus: ["running"],
          status: "awaiting_permissions",
          error: reason,
          event: { type: "tenant.onboarding.awaiting_permissions", error: reason },
        };
      }
      return {
        expectStatus: ["running"],
        status: "failed",
        error: reason,
        event: { type: "tenant.onboarding.failed", error: reason },
        // approval: required: a retry plans what is left and waits for its approval again.
        ...(tenant.approval === "required"
          ? { approvedPlan: null, steps: { "check-access": { status: "pending" as const } } }
          : {}),
      };
    }
    case "offboarding_succeeded": {
      const { tenant } = await load(input.tenantId);
      return {
        expectStatus: ["offboarding"],
        status: "offboarded",
        error: null,
        event: {
          type: "tenant.offboarding.succeeded",
          ...(tenant.ndrAddressKept ? { ndrAddressKept: true } : {}),
        },
      };
    }
    case "offboarding_failed": {
      const { tenant } = await load(input.tenantId);
      const unfinished = tenant.steps.filter(
        (s) => (OFFBOARDING_STEP_NAMES as readonly string[]).includes(s.name) && s.status === "running",
      );
      const reason = error ??
        unfinished[0]?.error ?? { code: "INTERNAL_ERROR", message: "Offboarding failed." };
      return {
        expectStatus: ["offboarding"],
        status: "offboarding_failed",
        error: reason,
        steps: Object.fromEntries(
          unfinished.map((s) => [
            s.name,
            { status: "failed" as const, finishedAt: now(), error: s.error ?? reason },
          ]),
        ),
        event: { type: "tenant.offboarding.failed", error: reason },
      };
    }
    default:
      throw new ConflictError(`Unknown outcome ${String(input.outcome)}.`);
  }
}
