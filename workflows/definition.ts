/**
 * The onboarding and offboarding workflows: ONE source for AWS (rendered by the CDK stack
 * with a definition substitution per task function ARN) and for the local engine
 * (aws-local-stepfunctions runs the same JSON with the task handlers in-process).
 *
 * JSONPath only (no JSONata): the local engine does not run JSONata.
 *
 * Shape of the onboarding workflow (the journaling guide's steps in dependency order; independent steps
 * side by side):
 *
 *   CheckAccess --consent missing--> AwaitConsent (ends, tenant awaiting_consent)
 *        |
 *   Configure (Parallel)
 *     ├─ connector? -> Connector -> ValidateConnector
 *     ├─ JournalSettings
 *     └─ groups? -> Groups
 *        |
 *   all three ok? -> JournalRules -> OnboardingSucceeded
 *        else     -> OnboardingFailed -> Fail
 *
 * Journal rules come last: they need the NDR address and the groups, and journaling must not
 * start through an outbound connector that has not passed validation (the guide validates
 * before the rule exists). A failing step is caught in its own branch and recorded, so sibling
 * branches finish their work instead of being cancelled, and a retry has less left to do.
 */
import { ErrorName } from "../functions/domain/errors.ts";
import type { StepName } from "../functions/domain/tenant.ts";

/** Task functions: `name` is the definition substitution key and the construct id. */
export const WORKFLOW_TASKS = [
  { name: "CheckAccess", entry: "functions/tasks/check-access.ts" },
  { name: "Connector", entry: "functions/tasks/connector.ts" },
  { name: "ValidateConnector", entry: "functions/tasks/validate-connector.ts" },
  { name: "JournalSettings", entry: "functions/tasks/journal-settings.ts" },
  { name: "Groups", entry: "functions/tasks/groups.ts" },
  { name: "JournalRules", entry: "functions/tasks/journal-rules.ts" },
  { name: "RecordOutcome", entry: "functions/tasks/record-outcome.ts" },
  { name: "Offboard", entry: "functions/tasks/offboard.ts" },
] as const;
export type TaskName = (typeof WORKFLOW_TASKS)[number]["name"];

/** The task function of each onboarding step. */
export const STEP_TASKS: Readonly<Record<StepName, TaskName>> = {
  "check-access": "CheckAccess",
  connector: "Connector",
  "validate-connector": "ValidateConnector",
  "journal-settings": "JournalSettings",
  groups: "Groups",
  "journal-rules": "JournalRules",
};

/** Outcomes the RecordOutcome task records (its `outcome` input). */
export type Outcome =
  | "step_failed"
  | "awaiting_consent"
  | "succeeded"
  | "failed"
  | "offboarding_succeeded"
  | "offboarding_failed";

/**
 * The Task states' TimeoutSeconds. The task functions' own timeout is 30 s shorter, so Lambda
 * ends a slow invocation before Step Functions gives up on it: a retry never runs beside it.
 */
export const TASK_TIMEOUT_SECONDS = 330;

type Json = Record<string, unknown>;
type States = Record<string, Json>;

/** Retries of the Lambda service itself (not of our code). */
const LAMBDA_SERVICE_RETRY: Json = {
  ErrorEquals: [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
  ],
  IntervalSeconds: 1,
  MaxAttempts: 3,
  BackoffRate: 2,
  JitterStrategy: "FULL",
};

/** Transient Microsoft 365 faults (and a task that timed out), after the in-task attempts are spent. */
const TRANSIENT_RETRY: Json = {
  ErrorEquals: [ErrorName.Transient, "Sandbox.Timedout", "States.Timeout"],
  IntervalSeconds: 5,
  MaxAttempts: 6,
  BackoffRate: 2,
  MaxDelaySeconds: 120,
  JitterStrategy: "FULL",
};

/**
 * Throttling: Exchange may ask for minutes (a Retry-After longer than the in-task cap is thrown
 * to here), so a longer schedule than for transient faults: up to 8 retries, 30 s doubling to
 * 15 min, full jitter; about 40 min at most, 20 on average.
 */
const THROTTLE_RETRY: Json = {
  ErrorEquals: [ErrorName.Throttled],
  IntervalSeconds: 30,
  MaxAttempts: 8,
  BackoffRate: 2,
  MaxDelaySeconds: 900,
  JitterStrategy: "FULL",
};

/** Connector validation lags creation by minutes: a slower, longer schedule (at most about 25 min). */
const VALIDATION_RETRY: Json = {
  ErrorEquals: [ErrorName.ValidationPending],
  IntervalSeconds: 30,
  MaxAttempts: 8,
  BackoffRate: 1.5,
  MaxDelaySeconds: 600,
  JitterStrategy: "FULL",
};

/** Bookkeeping tasks only touch DynamoDB: a short retry on any failure. */
const RECORD_RETRY: Json = {
  ErrorEquals: ["States.ALL"],
  IntervalSeconds: 1,
  MaxAttempts: 4,
  BackoffRate: 2,
  JitterStrategy: "FULL",
};

const TASK_INPUT = { "tenantId.$": "$.tenantId", "run.$": "$.run" };

function task(resource: string, extra: Json = {}): Json {
  return { Type: "Task", Resource: resource, TimeoutSeconds: TASK_TIMEOUT_SECONDS, ...extra };
}

function recordOutcome(taskArn: (t: TaskName) => string, outcome: Outcome, extra: Json, next: Json): Json {
  return task(taskArn("RecordOutcome"), {
    Parameters: { ...TASK_INPUT, outcome, ...extra },
    ResultPath: null,
    Retry: [RECORD_RETRY],
    ...next,
  });
}

const ok = (value: boolean): Json => ({ Type: "Pass", Result: { ok: value }, End: true });

/**
 * One onboarding step inside a branch: the task, its failure recording, and `next` on success
 * (`undefined` ends the branch with `{ok: true}`).
 */
function stepStates(
  taskArn: (t: TaskName) => string,
  step: StepName,
  state: string,
  next: string | undefined,
  retry: Json[],
): States {
  const succeeded = `${state} succeeded`;
  const failed = `${state} failed`;
  const states: States = {
    [state]: task(taskArn(STEP_TASKS[step]), {
      Parameters: TASK_INPUT,
      ResultPath: null,
      Retry: [LAMBDA_SERVICE_RETRY, ...retry],
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: `Record ${state} failure` }],
      Next: next ?? succeeded,
    }),
    [`Record ${state} failure`]: recordOutcome(
      taskArn,
      "step_failed",
      { step, "error.$": "$.error" },
      { Next: failed },
    ),
    [failed]: ok(false),
  };
  if (!next) states[succeeded] = ok(true);
  return states;
}

/** Ends a branch early with `{ok: true}` when the step does not apply. */
function onlyIf(flag: string, state: string, then: string): Json {
  return {
    Type: "Choice",
    Choices: [{ Variable: `$.plan.${flag}`, BooleanEquals: true, Next: then }],
    Default: `${state} not needed`,
  };
}

const allOk = (path: string, count: number): Json[] =>
  Array.from({ length: count }, (_, i) => ({ Variable: `${path}[${i}].ok`, BooleanEquals: true }));

/** The onboarding state machine; `taskArn` renders a task's Resource. */
export function onboardingDefinition(taskArn: (task: TaskName) => string): Json {
  const connectorBranch = {
    StartAt: "Connector needed?",
    States: {
      "Connector needed?": onlyIf("connector", "Connector", "Connector"),
      "Connector not needed": ok(true),
      ...stepStates(taskArn, "connector", "Connector", "ValidateConnector", [
        TRANSIENT_RETRY,
        THROTTLE_RETRY,
      ]),
      ...stepStates(taskArn, "validate-connector", "ValidateConnector", undefined, [
        TRANSIENT_RETRY,
        THROTTLE_RETRY,
        VALIDATION_RETRY,
      ]),
    },
  };
  const settingsBranch = {
    StartAt: "JournalSettings",
    States: stepStates(taskArn, "journal-settings", "JournalSettings", undefined, [
      TRANSIENT_RETRY,
      THROTTLE_RETRY,
    ]),
  };
  const groupsBranch = {
    StartAt: "Groups needed?",
    States: {
      "Groups needed?": onlyIf("groups", "Groups", "Groups"),
      "Groups not needed": ok(true),
      ...stepStates(taskArn, "groups", "Groups", undefined, [TRANSIENT_RETRY, THROTTLE_RETRY]),
    },
  };
  return {
    Comment:
      "Onboards a Microsoft 365 tenant to journaling: connector, validation, NDR address, groups, journal rules.",
    StartAt: "CheckAccess",
    States: {
      CheckAccess: task(taskArn("CheckAccess"), {
        Parameters: TASK_INPUT,
        ResultPath: "$.plan",
        Retry: [LAMBDA_SERVICE_RETRY, TRANSIENT_RETRY, THROTTLE_RETRY],
        Catch: [
          { ErrorEquals: [ErrorName.ConsentRequired], ResultPath: "$.error", Next: "AwaitConsent" },
          { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Record CheckAccess failure" },
        ],
        Next: "Configure",
      }),
      AwaitConsent: recordOutcome(taskArn, "awaiting_consent", { "error.$": "$.error" }, { End: true }),
      "Record CheckAccess failure": recordOutcome(
        taskArn,
        "step_failed",
        { step: "check-access", "error.$": "$.error" },
        { Next: "OnboardingFailed" },
      ),
      Configure: {
        Type: "Parallel",
        ResultPath: "$.branches",
        Branches: [connectorBranch, settingsBranch, groupsBranch],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "OnboardingFailed" }],
        Next: "Configured?",
      },
      "Configured?": {
        Type: "Choice",
        Choices: [{ And: allOk("$.branches", 3), Next: "JournalRules" }],
        Default: "OnboardingFailed",
      },
      JournalRules: task(taskArn("JournalRules"), {
        Parameters: TASK_INPUT,
        ResultPath: null,
        Retry: [LAMBDA_SERVICE_RETRY, TRANSIENT_RETRY, THROTTLE_RETRY],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Record JournalRules failure" }],
        Next: "OnboardingSucceeded",
      }),
      "Record JournalRules failure": recordOutcome(
        taskArn,
        "step_failed",
        { step: "journal-rules", "error.$": "$.error" },
        { Next: "OnboardingFailed" },
      ),
      OnboardingSucceeded: recordOutcome(taskArn, "succeeded", {}, { End: true }),
      OnboardingFailed: recordOutcome(taskArn, "failed", {}, { Next: "Failed" }),
      Failed: { Type: "Fail", Error: "OnboardingFailed", Cause: "A step failed; see the tenant's steps." },
    },
  };
}

/** The offboarding state machine: rules first (they reference the groups), then the rest. */
export function offboardingDefinition(taskArn: (task: TaskName) => string): Json {
  const part = (name: string, p: string, next: Json): Json =>
    task(taskArn("Offboard"), {
      Parameters: { ...TASK_INPUT, part: p },
      ResultPath: null,
      Retry: [LAMBDA_SERVICE_RETRY, TRANSIENT_RETRY, THROTTLE_RETRY],
      ...next,
      Comment: name,
    });
  const single = (state: string, p: string): Json => ({
    StartAt: state,
    States: { [state]: part(state, p, { End: true }) },
  });
  const failed = {
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "OffboardingFailed" }],
  };
  return {
    Comment: "Removes what onboarding created and restores the previous journal settings.",
    StartAt: "RemoveJournalRules",
    States: {
      RemoveJournalRules: part("RemoveJournalRules", "journal-rules", { Next: "RemoveTheRest", ...failed }),
      RemoveTheRest: {
        Type: "Parallel",
        ResultPath: null,
        Branches: [
          single("RemoveGroups", "groups"),
          single("RemoveConnectors", "connectors"),
          single("RestoreJournalSettings", "journal-settings"),
        ],
        Next: "OffboardingSucceeded",
        ...failed,
      },
      OffboardingSucceeded: recordOutcome(taskArn, "offboarding_succeeded", {}, { End: true }),
      OffboardingFailed: recordOutcome(
        taskArn,
        "offboarding_failed",
        { "error.$": "$.error" },
        { Next: "OffboardingFailedEnd" },
      ),
      OffboardingFailedEnd: { Type: "Fail", Error: "OffboardingFailed", Cause: "See the tenant's error." },
    },
  };
}

/** Every Task state of a definition (nested branches included) with its Resource and Retry. */
export function taskStates(definition: Json): { state: string; resource: string; retry: Json[] }[] {
  const out: { state: string; resource: string; retry: Json[] }[] = [];
  const walk = (states: States) => {
    for (const [state, body] of Object.entries(states)) {
      if (body.Type === "Task") {
        out.push({ state, resource: String(body.Resource), retry: (body.Retry as Json[]) ?? [] });
      }
      for (const branch of (body.Branches as { States: States }[]) ?? []) walk(branch.States);
    }
  };
  walk(definition.States as States);
  return out;
}
