import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction as LambdaFunctionTarget } from "aws-cdk-lib/aws-events-targets";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { DEFAULT_REMEDIATIONS_PER_DAY, parseDriftInterval } from "../../functions/domain/drift.ts";
import { tickMs } from "../../functions/tasks/drift-schedule.ts";
import {
  driftCheckDefinition,
  offboardingDefinition,
  onboardingDefinition,
  TASK_TIMEOUT_SECONDS,
  type TaskName,
  WORKFLOW_TASKS,
} from "../../workflows/definition.ts";
import { LambdaFunction } from "./lambda-function.ts";
import type { M365Credentials } from "./m365-credentials.ts";
import { acknowledgeWildcard, attrRef } from "./nag.ts";
import { grantTableItems, TABLE_ACCESS } from "./table-access.ts";
import type { TenantTable } from "./tenant-table.ts";

export interface OnboardingWorkflowProps {
  readonly table: TenantTable;
  readonly credentials: M365Credentials;
  /** Extra environment for every task function (e.g. `M365_CLOUD`). @default - none */
  readonly taskEnvironment?: Record<string, string>;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Time between two drift checks of a tenant (`30m`, `6h`, `1d`; `0`: no schedule).
   * @default "6h"
   */
  readonly driftCheckInterval?: string;
  /** Drift remediations per tenant per day (DRIFT_REMEDIATIONS_PER_DAY). @default 3 */
  readonly driftRemediationsPerDay?: number;
}

/** `${Name}` placeholders, filled by CloudFormation with each task function's ARN. */
const placeholder = (task: TaskName) => `\${${task}}`;

/**
 * The onboarding and offboarding Step Functions STANDARD state machines, rendered from the one
 * definition in `workflows/definition.ts` (the local engine runs the same JSON), and one task
 * function per `WORKFLOW_TASKS` entry with the table and the Microsoft 365 credentials.
 * Logging level ALL (execution data included: tasks return no secrets) and X-Ray tracing.
 */
export class OnboardingWorkflow extends Construct {
  readonly onboarding: StateMachine;
  readonly offboarding: StateMachine;
  /** The drift check (EXPRESS: a short, read-only check, priced per check). */
  readonly driftCheck: StateMachine;
  /** Starts each tick's drift checks (EventBridge schedule), spread over the interval. */
  readonly driftFanOut: LambdaFunction;
  /** Task functions by `WORKFLOW_TASKS` name. */
  readonly tasks: ReadonlyMap<TaskName, LambdaFunction>;
  /** Records runs whose execution ended FAILED, TIMED_OUT or ABORTED without their outcome. */
  readonly watchdog: LambdaFunction;
  /** Watchdog events EventBridge could not deliver after its retries (an alarm fires on the first). */
  readonly watchdogDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: OnboardingWorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    const tasks = new Map<TaskName, LambdaFunction>();
    for (const { name, entry } of WORKFLOW_TASKS) {
      const fn = new LambdaFunction(this, name, {
        entry,
        description: `Workflow task ${name}`,
        // Below the Task state's TimeoutSeconds: Lambda stops the invocation first (Sandbox.Timedout,
        // retried by the workflow), so a timed-out task never runs beside its own retry.
        // CheckDrift runs in an Express execution (5 minutes at most; its Task state allows 240 s).
        timeout: Duration.seconds(name === "CheckDrift" ? 210 : TASK_TIMEOUT_SECONDS - 30),
        logRetention,
        ...(props.taskEnvironment ? { environment: props.taskEnvironment } : {}),
      });
      grantTableItems(fn, props.table.table, TABLE_ACCESS.task);
      props.credentials.bind(fn);
      tasks.set(name, fn);
    }
    this.tasks = tasks;

    const machine = (
      machineId: string,
      definition: object,
      type: StateMachineType = StateMachineType.STANDARD,
    ) => {
      const json = JSON.stringify(definition);
      // Only the tasks this definition calls: each machine may invoke just those.
      const used = [...tasks].filter(([name]) => json.includes(placeholder(name)));
      const logs = new LogGroup(this, `${machineId}Logs`, {
        // The vendedlogs prefix keeps CloudWatch Logs' resource policy from growing per log group.
        logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${machineId}`,
        retention: logRetention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const sm = new StateMachine(this, machineId, {
        stateMachineType: type,
        definitionBody: DefinitionBody.fromString(json),
        definitionSubstitutions: Object.fromEntries(used.map(([name, fn]) => [name, fn.functionArn])),
        logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
      });
      for (const [, fn] of used) {
        fn.grantInvoke(sm);
        acknowledgeWildcard(
          sm,
          `${attrRef(fn)}:*`,
          "grantInvoke also covers the function's versions and aliases (ARN:*).",
        );
      }
      acknowledgeWildcard(
        sm,
        "*",
        "Log delivery (logs:*LogDelivery, DescribeLogGroups, PutResourcePolicy) and X-Ray actions have no resource-level permissions.",
      );
      return sm;
    };
    this.onboarding = machine("Onboarding", onboardingDefinition(placeholder));
    this.offboarding = machine("Offboarding", offboardingDefinition(placeholder));
    this.driftCheck = machine("DriftCheck", driftCheckDefinition(placeholder), StateMachineType.EXPRESS);

    // Drift remediation: CheckDrift starts a normal onboarding run.
    const checkDrift = tasks.get("CheckDrift");
    if (checkDrift) {
      checkDrift.addEnvironment("STATE_MACHINE_ARN", this.onboarding.stateMachineArn);
      checkDrift.addEnvironment(
        "DRIFT_REMEDIATIONS_PER_DAY",
        String(props.driftRemediationsPerDay ?? DEFAULT_REMEDIATIONS_PER_DAY),
      );
      this.onboarding.grantStartExecution(checkDrift);
    }

    // The schedule: one invocation per tick (interval / 72), each starting that tick's checks.
    const interval = props.driftCheckInterval ?? "6h";
    const intervalMs = parseDriftInterval(interval);
    this.driftFanOut = new LambdaFunction(this, "DriftFanOut", {
      entry: "functions/tasks/drift-fan-out.ts",
      description: "Starts the drift checks of this tick's tenants, spread over the tick",
      timeout: Duration.seconds(Math.min(900, Math.max(60, Math.ceil(tickMs(intervalMs || 1) / 1000)))),
      logRetention,
      environment: {
        DRIFT_CHECK_INTERVAL: interval,
        DRIFT_STATE_MACHINE_ARN: this.driftCheck.stateMachineArn,
      },
    });
    grantTableItems(this.driftFanOut, props.table.table, TABLE_ACCESS.driftFanOut);
    this.driftCheck.grantStartExecution(this.driftFanOut);
    if (intervalMs > 0) {
      new Rule(this, "DriftCheckTick", {
        description: "One tick of the drift check schedule",
        schedule: Schedule.rate(Duration.seconds(Math.max(60, Math.round(tickMs(intervalMs) / 1000)))),
        targets: [new LambdaFunctionTarget(this.driftFanOut, { retryAttempts: 2 })],
      });
    }

    // A timed-out or aborted execution records nothing itself: the watchdog marks its run failed.
    this.watchdog = new LambdaFunction(this, "ExecutionWatchdog", {
      entry: "functions/tasks/execution-watchdog.ts",
      description: "Marks a tenant failed when its workflow execution ended without recording an outcome",
      logRetention,
    });
    grantTableItems(this.watchdog, props.table.table, TABLE_ACCESS.watchdog);
    // An ended execution the watchdog never heard of leaves its tenant looking in flight until
    // someone reads it (the API then records it): keep the event, and alarm on it.
    this.watchdogDeadLetterQueue = new Queue(this, "WatchdogDeadLetterQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.watchdogDeadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself a dead-letter destination; an alarm fires on its first message.",
    });
    new Rule(this, "ExecutionEnded", {
      description: "Onboarding/offboarding executions that failed, timed out or were aborted",
      eventPattern: {
        source: ["aws.states"],
        detailType: ["Step Functions Execution Status Change"],
        detail: {
          status: ["FAILED", "TIMED_OUT", "ABORTED"],
          stateMachineArn: [this.onboarding.stateMachineArn, this.offboarding.stateMachineArn],
        },
      },
      targets: [
        new LambdaFunctionTarget(this.watchdog, {
          retryAttempts: 8,
          deadLetterQueue: this.watchdogDeadLetterQueue,
        }),
      ],
    });
  }
}
