/**
 * The onboarding and offboarding workflows: ONE source for AWS (rendered by the CDK stack
 * with the one task function's ARN as the definition substitution of every task) and for the
 * local engine (aws-local-stepfunctions runs the same JSON with the task handlers in-process).
 * Both forms call a task through the one router of the task Lambda (functions/tasks/router.ts),
 * which picks the handler by the payload's `task` field.
 *
 * JSONPath only (no JSONata): the local engine does not run JSONata.
 *
 * Shape of the onboarding workflow (the journaling guide's steps in dependency order; read once,
 * then write):
 *
 *   HandOver (only after a change of owner, while step hand-over is not done): the previous
 *        |   owner's journal rules stop; no approval needed (the service's own objects)
 *        |
 *   CheckAccess: access, plus ONE wave of reads for every remaining step's comparison; the
 *        |       diffs go forward in the state ($.plan.diffs) so the writes need no reads
 *        |  \--consent missing--> AwaitConsent (ends, tenant awaiting_consent)
 *        |  \--permission missing--> AwaitPermissions (ends, tenant awaiting_permissions)
 *        |  \--approval required--> AwaitApproval (ends, tenant awaiting_approval with its plan)
 *        |
 *   Configure: connector, journal-settings and groups, side by side in one invocation
 *        |
 *   Journal: the connector's validation (with a gateway), then the journal rules, the
 *        |   connector's "validated" mark written beside them; records `succeeded`
 *        |
 *   Onboarded                                    (any failure -> OnboardingFailed -> Fail)
 *
 * Journal rules come last: they need the NDR address and the groups, and journaling must not
 * start through an outbound connector that has not passed validation (the guide validates
 * before the rule exists): the Journal task starts the rules once every connector passed.
 * Configure's three steps run side by side inside ONE task (not a
 * Parallel state): they meet the same warm container and token cache as CheckAccess, and a
 * failing step still waits for its siblings, whose work is recorded, so a retry has less left
 * to do (a retry skips the steps that succeeded).
 */
import { ErrorName } from "../functions/domain/errors.ts";
import type { OffboardingStepName, StepName } from "../functions/domain/tenant.ts";
import {
  CONFIGURE_STEPS,
  DRIFT_CHECK_TIMEOUT_SECONDS,
  DRIFT_TASK_TIMEOUT_SECONDS,
  JOURNAL_STEPS,
  type Outcome,
  TASK_TIMEOUT_SECONDS,
  type TaskName,
} from "./tasks.ts";

export { taskStates } from "./task-states.ts";
export * from "./tasks.ts";

type Json = Record<string, unknown>;
type States = Record<string, Json>;

/**
 * The Lambda service itself (not our code): throttling of the task function when the account's
 * concurrency is used up (a bulk import on a busy account), and its own faults. Waited out for
 * minutes rather than failing the tenant: 2 s doubling to 2 min, 12 tries, full jitter; at most
 * 14.1 minutes, about half that on average.
 */
const LAMBDA_SERVICE_RETRY: Json = {
  ErrorEquals: [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
  ],
  IntervalSeconds: 2,
  MaxAttempts: 12,
  BackoffRate: 2,
  MaxDelaySeconds: 120,
  JitterStrategy: "FULL",
};

/**
 * The same in the drift check, whose Express execution ends at 5 minutes: 2 s doubling to 1 min,
 * 6 tries, full jitter; at most 2 minutes (a check that still cannot run waits for its next tick).
 */
const DRIFT_LAMBDA_SERVICE_RETRY: Json = { ...LAMBDA_SERVICE_RETRY, MaxAttempts: 6, MaxDelaySeconds: 60 };

/**
 * Transient Microsoft 365 faults (and a task that timed out), after the in-task attempts are
 * spent: 5 s doubling to 2 min, 6 tries, full jitter; at most 4.6 minutes.
 */
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
 * 15 min, full jitter; at most 60.5 minutes, about half that on average.
 */
const THROTTLE_RETRY: Json = {
  ErrorEquals: [ErrorName.Throttled],
  IntervalSeconds: 30,
  MaxAttempts: 8,
  BackoffRate: 2,
  MaxDelaySeconds: 900,
  JitterStrategy: "FULL",
};

/**
 * Other work on the same tenant (another run, an offboarding, a drift check, in another Lambda
 * container) holds the tenant's Exchange lease beyond a task's own wait (30 s): one environment
 * at a time sends a tenant's requests, and a task holds the lease at most until its own timeout
 * (15 min). 15 s doubling to 5 min, 8 tries, full jitter; at most 22.8 minutes.
 */
const TENANT_BUSY_RETRY: Json = {
  ErrorEquals: [ErrorName.TenantBusy],
  IntervalSeconds: 15,
  MaxAttempts: 8,
  BackoffRate: 2,
  MaxDelaySeconds: 300,
  JitterStrategy: "FULL",
};

/**
 * Exchange cannot find a new connector for validation until directory replication catches up:
 * retried with backoff: 30 s growing to 5 min, 7 tries; at most 15.4 minutes.
 */
const VALIDATION_PENDING_RETRY: Json = {
  ErrorEquals: [ErrorName.ValidationPending],
  IntervalSeconds: 30,
  MaxAttempts: 7,
  BackoffRate: 1.5,
  MaxDelaySeconds: 300,
};

/**
 * A validation verdict with failed tasks (a smart host refused, the test message bounced): a few
 * more tries (60 + 90 + 135 s: at most 4.8 minutes), each sending one test message, then the
 * step fails with CONNECTOR_VALIDATION_FAILED.
 */
const VALIDATION_FAILED_RETRY: Json = {
  ErrorEquals: [ErrorName.ValidationFailed],
  IntervalSeconds: 60,
  MaxAttempts: 3,
  BackoffRate: 1.5,
};

/**
 * A dehydrated organisation after Enable-OrganizationCustomization: Exchange takes up to 48 hours
 * to apply it (Microsoft says an hour; vendors see up to two days). 60 s doubling to an hour, then
 * hourly: 53 tries (60 + 120 + ... + 1,920 s, then 47 x 3,600 s); at most 2883 minutes, about 48
 * hours. Step Functions waits between tries: no Lambda is held.
 */
const HYDRATION_RETRY: Json = {
  ErrorEquals: [ErrorName.Hydrating],
  IntervalSeconds: 60,
  MaxAttempts: 53,
  BackoffRate: 2,
  MaxDelaySeconds: 3600,
};

/**
 * A tenant awaiting permissions re-checks them by itself (reads only): role assignments take up
 * to an hour to reach Exchange. After a first wait of 5 min (a Wait state), 10 checks, 5 min
 * growing by 1.5 to 30 min apart, 9 retries; at most 185.9 minutes, about 3 hours in all.
 */
const PERMISSION_RECHECK_RETRY: Json = {
  ErrorEquals: [ErrorName.PermissionMissing],
  IntervalSeconds: 300,
  MaxAttempts: 9,
  BackoffRate: 1.5,
  MaxDelaySeconds: 1800,
};

/** Every task that talks to Microsoft 365 retries these. */
const M365_RETRIES: Json[] = [TRANSIENT_RETRY, THROTTLE_RETRY, TENANT_BUSY_RETRY, HYDRATION_RETRY];

/** The error names a step's task is retried on by the workflow (after its in-task attempts). */
export const WORKFLOW_RETRIED_ERRORS: ReadonlySet<string> = new Set(
  [...M365_RETRIES, VALIDATION_PENDING_RETRY, VALIDATION_FAILED_RETRY].flatMap(
    (r) => r["ErrorEquals"] as string[],
  ),
);

/**
 * Bookkeeping tasks only touch DynamoDB: a short retry on any other failure (1 s doubling, 4
 * tries, full jitter; at most 15 seconds). The Lambda service's errors come first (their own,
 * longer schedule).
 */
const RECORD_RETRY: Json = {
  ErrorEquals: ["States.ALL"],
  IntervalSeconds: 1,
  MaxAttempts: 4,
  BackoffRate: 2,
  JitterStrategy: "FULL",
};

/** The named Retry policies, with the window their comment states (test/workflow-retry-windows.test.ts). */
export const RETRY_POLICIES: Readonly<Record<string, Json>> = {
  LAMBDA_SERVICE_RETRY,
  DRIFT_LAMBDA_SERVICE_RETRY,
  TRANSIENT_RETRY,
  THROTTLE_RETRY,
  TENANT_BUSY_RETRY,
  VALIDATION_PENDING_RETRY,
  VALIDATION_FAILED_RETRY,
  HYDRATION_RETRY,
  PERMISSION_RECHECK_RETRY,
  RECORD_RETRY,
};

const TASK_INPUT = { "tenantId.$": "$.tenantId", "run.$": "$.run" };

/** A Task state of `name`: its payload says which task it is, then the execution's tenant and run. */
/** A Choice: to `next` when the flag at `path` is present and true, else to `otherwise`. */
function whenTrue(path: string, next: string, otherwise: string): Json {
  return {
    Type: "Choice",
    Choices: [
      {
        And: [
          { Variable: path, IsPresent: true },
          { Variable: path, BooleanEquals: true },
        ],
        Next: next,
      },
    ],
    Default: otherwise,
  };
}

function task(taskArn: (t: TaskName) => string, name: TaskName, parameters: Json, extra: Json): Json {
  return {
    Type: "Task",
    Resource: taskArn(name),
    TimeoutSeconds: TASK_TIMEOUT_SECONDS,
    Parameters: { task: name, ...TASK_INPUT, ...parameters },
    ...extra,
  };
}

function recordOutcome(taskArn: (t: TaskName) => string, outcome: Outcome, extra: Json, next: Json): Json {
  return task(
    taskArn,
    "RecordOutcome",
    { outcome, ...extra },
    {
      ResultPath: null,
      Retry: [LAMBDA_SERVICE_RETRY, RECORD_RETRY],
      ...next,
    },
  );
}

/** The diffs CheckAccess read, for the first attempt of each later step (see functions/domain/steps/wave.ts). */
const DIFFS_INPUT = { "diffs.$": "$.plan.diffs" };

/**
 * A task that runs onboarding steps: on failure (after its retries) the steps it started that did
 * not succeed are recorded as failed, then the onboarding fails.
 */
function stepTask(
  taskArn: (t: TaskName) => string,
  name: TaskName,
  steps: readonly StepName[],
  retry: Json[],
  next: string,
): States {
  const record = `Record ${name} failure`;
  return {
    [name]: task(taskArn, name, DIFFS_INPUT, {
      ResultPath: null,
      Retry: [LAMBDA_SERVICE_RETRY, ...retry],
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: record }],
      Next: next,
    }),
    [record]: recordOutcome(
      taskArn,
      "step_failed",
      { steps, "error.$": "$.error" },
      { Next: "OnboardingFailed" },
    ),
  };
}

/** After a change of owner: the previous owner's journaling stops before anything else. */
function handOverStates(taskArn: (task: TaskName) => string): States {
  return {
    "Hand-over pending?": whenTrue("$.handOver", "HandOver", "CheckAccess"),
    HandOver: task(
      taskArn,
      "HandOver",
      {},
      {
        ResultPath: null,
        Retry: [LAMBDA_SERVICE_RETRY, ...M365_RETRIES],
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Record HandOver failure" }],
        Next: "CheckAccess",
      },
    ),
    "Record HandOver failure": recordOutcome(
      taskArn,
      "step_failed",
      { step: "hand-over", "error.$": "$.error" },
      { Next: "OnboardingFailed" },
    ),
  };
}

/** Access and the one wave of reads; consent, permissions or an approval missing end the run here. */
function checkAccessStates(taskArn: (task: TaskName) => string): States {
  return {
    CheckAccess: task(
      taskArn,
      "CheckAccess",
      {},
      {
        ResultPath: "$.plan",
        Retry: [LAMBDA_SERVICE_RETRY, TRANSIENT_RETRY, THROTTLE_RETRY, TENANT_BUSY_RETRY],
        Catch: [
          { ErrorEquals: [ErrorName.ConsentRequired], ResultPath: "$.error", Next: "AwaitConsent" },
          {
            ErrorEquals: [ErrorName.PermissionMissing],
            ResultPath: "$.error",
            Next: "AwaitPermissions",
          },
          { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Record CheckAccess failure" },
        ],
        Next: "Approval needed?",
      },
    ),
    // approval: required: CheckAccess recorded the plan and `awaiting_approval`; nothing is written.
    "Approval needed?": whenTrue("$.plan.awaitingApproval", "AwaitApproval", "Configure"),
    AwaitApproval: { Type: "Succeed" },
    AwaitConsent: recordOutcome(taskArn, "awaiting_consent", { "error.$": "$.error" }, { End: true }),
  };
}

/** A tenant awaiting permissions re-checks them by itself for a few hours, then waits for a retry. */
function awaitPermissionsStates(taskArn: (task: TaskName) => string): States {
  return {
    AwaitPermissions: recordOutcome(
      taskArn,
      "awaiting_permissions",
      { "error.$": "$.error" },
      { Next: "Wait before re-checking permissions" },
    ),
    "Wait before re-checking permissions": { Type: "Wait", Seconds: 300, Next: "RecheckPermissions" },
    // Reads only, retried with backoff for a few hours; granted: queued again, on from CheckAccess.
    RecheckPermissions: task(
      taskArn,
      "RecheckPermissions",
      {},
      {
        ResultPath: "$.recheck",
        Retry: [
          LAMBDA_SERVICE_RETRY,
          TRANSIENT_RETRY,
          THROTTLE_RETRY,
          TENANT_BUSY_RETRY,
          PERMISSION_RECHECK_RETRY,
        ],
        Catch: [
          { ErrorEquals: ["States.ALL"], ResultPath: "$.recheckError", Next: "StillAwaitingPermissions" },
        ],
        Next: "Permissions granted?",
      },
    ),
    "Permissions granted?": {
      Type: "Choice",
      Choices: [{ Variable: "$.recheck.granted", BooleanEquals: true, Next: "CheckAccess" }],
      Default: "StillAwaitingPermissions",
    },
    // The tenant stays awaiting_permissions: a retry continues once the roles are granted.
    StillAwaitingPermissions: { Type: "Succeed" },
  };
}

/** The onboarding state machine; `taskArn` renders a task's Resource. */
export function onboardingDefinition(taskArn: (task: TaskName) => string): Json {
  return {
    Comment: "Onboards a Microsoft 365 tenant to journaling.",
    StartAt: "Hand-over pending?",
    States: {
      ...handOverStates(taskArn),
      ...checkAccessStates(taskArn),
      ...awaitPermissionsStates(taskArn),
      "Record CheckAccess failure": recordOutcome(
        taskArn,
        "step_failed",
        { step: "check-access", "error.$": "$.error" },
        { Next: "OnboardingFailed" },
      ),
      ...stepTask(taskArn, "Configure", CONFIGURE_STEPS, M365_RETRIES, "Journal"),
      ...stepTask(
        taskArn,
        "Journal",
        JOURNAL_STEPS,
        [...M365_RETRIES, VALIDATION_PENDING_RETRY, VALIDATION_FAILED_RETRY],
        "Onboarded",
      ),
      // The Journal task recorded `succeeded` with its last write.
      Onboarded: { Type: "Succeed" },
      // The caught error, for a task that failed before any of its steps started.
      OnboardingFailed: recordOutcome(taskArn, "failed", { "error.$": "$.error" }, { Next: "Failed" }),
      Failed: { Type: "Fail", Error: "OnboardingFailed", Cause: "A step failed; see the tenant's steps." },
    },
  };
}

/**
 * The offboarding state machine, in offboarding's step order: journal rules first (they
 * reference the groups and send through the connectors), then groups and connectors side by
 * side, then the NDR address last (Exchange will not clear it while journal rules exist).
 */
export function offboardingDefinition(taskArn: (task: TaskName) => string): Json {
  const part = (p: OffboardingStepName, next: Json): Json =>
    task(
      taskArn,
      "Offboard",
      { part: p },
      {
        ResultPath: null,
        Retry: [LAMBDA_SERVICE_RETRY, ...M365_RETRIES],
        ...next,
      },
    );
  const single = (state: string, p: OffboardingStepName): Json => ({
    StartAt: state,
    States: { [state]: part(p, { End: true }) },
  });
  const failed = {
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "OffboardingFailed" }],
  };
  return {
    Comment: "Removes what onboarding created, restores what it adopted, then the journal settings.",
    StartAt: "RemoveJournalRules",
    States: {
      RemoveJournalRules: part("remove-journal-rules", { Next: "RemoveGroupsAndConnectors", ...failed }),
      RemoveGroupsAndConnectors: {
        Type: "Parallel",
        ResultPath: null,
        Branches: [single("RemoveGroups", "remove-groups"), single("RemoveConnectors", "remove-connectors")],
        Next: "RestoreJournalSettings",
        ...failed,
      },
      RestoreJournalSettings: part("restore-journal-settings", { Next: "OffboardingSucceeded", ...failed }),
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

/**
 * The drift check: one task that runs every step's read-only comparison and records the result
 * on the tenant (and, with `onDrift: remediate`, starts an onboarding run). It writes nothing in
 * the customer's tenant. Its own state machine (Express in AWS: short, and priced per check).
 */
export function driftCheckDefinition(taskArn: (task: TaskName) => string): Json {
  return {
    Comment: "Checks a tenant for drift with reads only.",
    // Below Express's 5 minutes: the execution ends itself, with its error in the log.
    TimeoutSeconds: DRIFT_CHECK_TIMEOUT_SECONDS,
    StartAt: "CheckDrift",
    States: {
      CheckDrift: task(
        taskArn,
        "CheckDrift",
        { "check.$": "$.check" },
        {
          ResultPath: null,
          // Express executions last at most 5 minutes: a short schedule, then the next check. A
          // check that ran out of time is not retried: its invocation may still be running, and
          // a retry would run beside it (the next tick checks again).
          TimeoutSeconds: DRIFT_TASK_TIMEOUT_SECONDS,
          Retry: [
            DRIFT_LAMBDA_SERVICE_RETRY,
            { ...TRANSIENT_RETRY, ErrorEquals: [ErrorName.Transient], MaxAttempts: 3, MaxDelaySeconds: 30 },
            { ...THROTTLE_RETRY, MaxAttempts: 2, MaxDelaySeconds: 60 },
            { ...TENANT_BUSY_RETRY, MaxAttempts: 2, MaxDelaySeconds: 60 },
          ],
          End: true,
        },
      ),
    },
  };
}
