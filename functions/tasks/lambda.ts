/**
 * The workflow task function for Lambda: Powertools logger (tenant id and task as keys), tracer
 * and metrics as middy middleware around the task router (`router.ts`), which routes by the
 * `task` name every Task state puts in its payload to the task logic of `task-handlers.ts`.
 */
import {
  DRIFT_TASK_TIMEOUT_SECONDS,
  type RetiredTaskName,
  type TaskName,
} from "../../workflows/definition.ts";
import { StepFunctionsEngine } from "../adapters/workflow/sfn-engine.ts";
import { changeLogStore, tenantStore } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { boundLeaseWaits, m365Gateway, releaseTenantLeases } from "../commons/m365-deps.ts";
import { logger, METRIC, MetricUnit, metrics } from "../commons/observability.ts";
import { DEFAULT_REMEDIATIONS_PER_DAY } from "../domain/drift.ts";
import type { TenantEvent } from "../domain/tenant.ts";
import { createTaskRouter, type RoutedTaskInput, type TaskRouter } from "./router.ts";
import type { StepResult, TaskHandler } from "./task-context.ts";
import { createTaskHandlers } from "./task-handlers.ts";
import { withinBudget } from "./time-budget.ts";

/** The drift check's own limit: 10 s below its Task state's TimeoutSeconds. */
const DRIFT_TASK_BUDGET_MS = (DRIFT_TASK_TIMEOUT_SECONDS - 10) * 1000;

/** How long before the invocation's timeout a wait for a tenant's lease gives up (TenantBusyError). */
const LEASE_WAIT_MARGIN_MS = 5_000;

let handlers: Record<TaskName | RetiredTaskName, TaskHandler> | undefined;

/** Built once per cold start; the Microsoft 365 gateway (a Secrets Manager read) only on first use. */
function taskHandlers(): Record<TaskName | RetiredTaskName, TaskHandler> {
  if (handlers) return handlers;
  // CheckDrift starts remediation runs (the onboarding state machine's ARN, STATE_MACHINE_ARN).
  const onboardingArn = process.env["STATE_MACHINE_ARN"];
  const engine = onboardingArn
    ? new StepFunctionsEngine({ stateMachineArns: { onboarding: onboardingArn, offboarding: "" } })
    : undefined;
  handlers = createTaskHandlers({
    // The stack's stream forwarder writes out every outbox a state change leaves (it sees the
    // tenant item's new image): a task does not wait for two more requests per event.
    store: tenantStore({ flushAfterWrite: false }),
    m365: m365Gateway,
    onStepResult: recordStepResult,
    onEvent: countEvent,
    changeLog: changeLogStore(),
    onChangeLogError: (err) =>
      logger.error("could not record a change in the audit trail", { error: String(err) }),
    remediationsPerDay: Number(process.env["DRIFT_REMEDIATIONS_PER_DAY"] ?? DEFAULT_REMEDIATIONS_PER_DAY),
    ...(engine && { startOnboarding: (input) => engine.start("onboarding", input) }),
  });
  return handlers;
}

/** Logs and measures every step: duration and outcome by step. */
export function recordStepResult(result: StepResult): void {
  if (result.outcome === "skipped") return;
  const step = metrics.singleMetric();
  step.addDimension("step", result.step);
  step.addMetric(METRIC.stepDuration, MetricUnit.Milliseconds, result.durationMs);
  step.addMetric(
    result.outcome === "succeeded" ? METRIC.stepSucceeded : METRIC.stepFailed,
    MetricUnit.Count,
    1,
  );
  const fields = { step: result.step, durationMs: result.durationMs, changes: result.changes };
  if (result.outcome === "succeeded") logger.info("step succeeded", fields);
  else logger.warn("step failed", { ...fields, error: result.error });
}

const EVENT_METRICS: Partial<Record<TenantEvent["type"], string>> = {
  "tenant.onboarding.started": METRIC.onboardingStarted,
  "tenant.onboarding.succeeded": METRIC.onboardingSucceeded,
  "tenant.onboarding.failed": METRIC.onboardingFailed,
};

/** Onboardings started, succeeded and failed. */
export function countEvent(event: TenantEvent): void {
  const metric = EVENT_METRICS[event.type];
  if (metric) metrics.addMetric(metric, MetricUnit.Count, 1);
  if (event.type !== "tenant.onboarding.step_succeeded")
    logger.info("tenant event", {
      event: event.type,
      sequence: event.data.sequence,
      ...(event.data.error ? { error: event.data.error } : {}),
    });
}

let router: TaskRouter | undefined;

/**
 * The Lambda handler of the task function: every task of every workflow, by `input.task`.
 * One function means one warm container (and one token cache per tenant) for an onboarding's
 * steps; a task name the table does not hold fails the invocation (a definition bug).
 */
export function taskLambda() {
  return instrument(
    async (input: RoutedTaskInput, context) => {
      const { task } = input;
      logger.appendKeys({ tenantId: input.tenantId, run: input.run, task });
      router ??= createTaskRouter(taskHandlers());
      // A wait for a tenant's Exchange lease ends before this invocation's timeout.
      const remaining = context.getRemainingTimeInMillis?.();
      if (remaining !== undefined) boundLeaseWaits(Date.now() + remaining - LEASE_WAIT_MARGIN_MS);
      const work = router(input);
      try {
        // The drift check ends before its Task state's timeout (a retry must not run beside it).
        return await (task === "CheckDrift" ? withinBudget(work, DRIFT_TASK_BUDGET_MS, task) : work);
      } finally {
        // Lambda freezes the container once the invocation returns: its tenants' leases go now.
        await releaseTenantLeases();
      }
    },
    { metrics: true },
  );
}
