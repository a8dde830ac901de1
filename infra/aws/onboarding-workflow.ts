import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction as LambdaFunctionTarget } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { DEFAULT_REMEDIATIONS_PER_DAY, parseDriftInterval } from "../../functions/domain/drift.ts";
import { tickMs, ticksPerInterval } from "../../functions/domain/drift-ticks.ts";
import {
  driftCheckDefinition,
  offboardingDefinition,
  onboardingDefinition,
  TASK_FUNCTION,
  TASK_TIMEOUT_SECONDS,
} from "../../workflows/definition.ts";
import { LambdaFunction } from "./lambda-function.ts";
import type { M365Credentials } from "./m365-credentials.ts";
import { acknowledgeWildcard, attrRef } from "./nag.ts";
import { strandedSweep } from "./stranded-sweep.ts";
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
  /** The stranded-run sweep's threshold (STRANDED_AFTER_SECONDS). @default 300 */
  readonly strandedAfterSeconds?: number;
}

/** The `${WorkflowTask}` placeholder of every Task state, filled by CloudFormation with the task function's ARN. */
const PLACEHOLDER = `\${${TASK_FUNCTION.name}}`;

/**
 * The onboarding and offboarding Step Functions STANDARD state machines, rendered from the one
 * definition in `workflows/definition.ts` (the local engine runs the same JSON), and the ONE
 * task function behind every Task state (it routes by the payload's `task`), with the table
 * and the Microsoft 365 credentials: an onboarding's steps meet warm containers and their
 * token caches instead of one cold function per task. Its table access is the union of the
 * tasks' (they all reach only their tenant's items: `TENANT#*`).
 * Logging level ALL (execution data included: tasks return no secrets) and X-Ray tracing.
 */
export class OnboardingWorkflow extends Construct {
  readonly onboarding: StateMachine;
  readonly offboarding: StateMachine;
  /** The drift check (EXPRESS: a short, read-only check, priced per check). */
  readonly driftCheck: StateMachine;
  /** Starts each tick's drift checks (EventBridge schedule), spread over the interval. */
  readonly driftFanOut: LambdaFunction;
  /** The task function of every workflow. */
  readonly task: LambdaFunction;
  /** Records runs whose execution ended FAILED, TIMED_OUT or ABORTED without their outcome. */
  readonly watchdog: LambdaFunction;
  /** Records runs left in flight with no live execution (every minute). */
  readonly strandedSweep: LambdaFunction;
  /** Watchdog events EventBridge could not deliver after its retries (an alarm fires on the first). */
  readonly watchdogDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: OnboardingWorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    this.task = this.taskFunction(props, logRetention);
    const onboardingName = this.allowRemediationRuns(props);
    this.onboarding = this.stateMachine(
      "Onboarding",
      onboardingDefinition(() => PLACEHOLDER),
      logRetention,
      {
        name: onboardingName,
      },
    );
    this.offboarding = this.stateMachine(
      "Offboarding",
      offboardingDefinition(() => PLACEHOLDER),
      logRetention,
    );
    this.driftCheck = this.stateMachine(
      "DriftCheck",
      driftCheckDefinition(() => PLACEHOLDER),
      logRetention,
      {
        type: StateMachineType.EXPRESS,
      },
    );
    this.driftFanOut = this.driftSchedule(props, logRetention);
    ({ watchdog: this.watchdog, deadLetterQueue: this.watchdogDeadLetterQueue } = this.executionWatchdog(
      props,
      logRetention,
    ));
    this.strandedSweep = strandedSweep(this, {
      table: props.table,
      onboarding: this.onboarding,
      offboarding: this.offboarding,
      logRetention,
      ...(props.strandedAfterSeconds !== undefined && { afterSeconds: props.strandedAfterSeconds }),
    });
  }

  /** The one task function of every Task state. */
  private taskFunction(props: OnboardingWorkflowProps, logRetention: RetentionDays): LambdaFunction {
    const fn = new LambdaFunction(this, TASK_FUNCTION.name, {
      entry: TASK_FUNCTION.entry,
      description: "Workflow tasks of onboarding and offboarding, by the task name in the payload",
      // Below the Task state's TimeoutSeconds: Lambda stops the invocation first (Sandbox.Timedout,
      // retried by the workflow), so a timed-out task never runs beside its own retry.
      timeout: Duration.seconds(TASK_TIMEOUT_SECONDS - 30),
      logRetention,
      ...(props.taskEnvironment ? { environment: props.taskEnvironment } : {}),
    });
    grantTableItems(fn, props.table.table, TABLE_ACCESS.task);
    props.credentials.bind(fn);

    return fn;
  }

  /**
   * The onboarding machine has a set name so that its ARN can be built without referring to it:
   * the task function (which the machine invokes) starts remediation runs of it (CheckDrift).
   * Returns that name.
   */
  private allowRemediationRuns(props: OnboardingWorkflowProps): string {
    const stack = Stack.of(this);
    const onboardingName = `${stack.stackName}-Onboarding`;
    const onboardingArn = stack.formatArn({
      service: "states",
      resource: "stateMachine",
      resourceName: onboardingName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.task.addEnvironment("STATE_MACHINE_ARN", onboardingArn);
    this.task.addEnvironment(
      "DRIFT_REMEDIATIONS_PER_DAY",
      String(props.driftRemediationsPerDay ?? DEFAULT_REMEDIATIONS_PER_DAY),
    );
    this.task.addToRolePolicy(
      new PolicyStatement({ actions: ["states:StartExecution"], resources: [onboardingArn] }),
    );

    return onboardingName;
  }

  /** A state machine of `definition`, its Task states calling the task function; logged and traced. */
  private stateMachine(
    machineId: string,
    definition: object,
    logRetention: RetentionDays,
    options: { type?: StateMachineType; name?: string } = {},
  ): StateMachine {
    const type = options.type ?? StateMachineType.STANDARD;
    const json = JSON.stringify(definition);
    const logs = new LogGroup(this, `${machineId}Logs`, {
      // The vendedlogs prefix keeps CloudWatch Logs' resource policy from growing per log group.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${machineId}`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const sm = new StateMachine(this, machineId, {
      ...(options.name && { stateMachineName: options.name }),
      stateMachineType: type,
      definitionBody: DefinitionBody.fromString(json),
      definitionSubstitutions: { [TASK_FUNCTION.name]: this.task.functionArn },
      // Every state's event is logged, without its data: the states carry what the onboarding's
      // read wave found (addresses, group members), which stays in the execution history
      // (Step Functions keeps it 90 days, readable with states:GetExecutionHistory only).
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    if (!json.includes(PLACEHOLDER)) throw new Error(`${machineId} calls no task`);
    this.task.grantInvoke(sm);
    acknowledgeWildcard(
      sm,
      `${attrRef(this.task)}:*`,
      "grantInvoke also covers the function's versions and aliases (ARN:*).",
    );
    acknowledgeWildcard(
      sm,
      "*",
      "Log delivery (logs:*LogDelivery, DescribeLogGroups, PutResourcePolicy) and X-Ray actions have no resource-level permissions.",
    );
    return sm;
  }

  /** Each tick's fan-out of drift checks (EventBridge schedule), unless the interval is 0. */
  private driftSchedule(props: OnboardingWorkflowProps, logRetention: RetentionDays): LambdaFunction {
    // The schedule: one invocation per tick (a whole number of minutes, at most 72 per interval),
    // each starting its tick's checks paced over most of the tick, within the function's timeout.
    const interval = props.driftCheckInterval ?? "6h";
    const intervalMs = parseDriftInterval(interval);
    if (intervalMs % 60_000 !== 0) {
      throw new Error(`driftCheckInterval must be a whole number of minutes (30m, 6h, 1d); got ${interval}`);
    }
    // An interval with few whole-minute divisors (73m: one tick) would check every tenant at once.
    if (intervalMs > 0 && ticksPerInterval(intervalMs) < Math.min(12, intervalMs / 60_000)) {
      throw new Error(
        `driftCheckInterval ${interval} cannot be spread over ticks of whole minutes; choose one with more divisors (e.g. 30m, 1h, 6h, 1d)`,
      );
    }
    const tickSeconds = intervalMs > 0 ? tickMs(intervalMs) / 1000 : 60;
    const fanOutTimeout = Math.min(900, tickSeconds);
    const driftFanOut = new LambdaFunction(this, "DriftFanOut", {
      entry: "functions/tasks/drift-fan-out.ts",
      description: "Starts the drift checks of this tick's tenants, spread over the tick",
      timeout: Duration.seconds(fanOutTimeout),
      logRetention,
      environment: {
        DRIFT_CHECK_INTERVAL: interval,
        DRIFT_STATE_MACHINE_ARN: this.driftCheck.stateMachineArn,
        // Starts end well before the timeout (a timed-out tick is retried by EventBridge and its
        // claims keep the retry from starting a check twice).
        DRIFT_SPREAD_SECONDS: String(Math.floor(Math.min(tickSeconds * 0.8, fanOutTimeout - 30))),
      },
    });
    grantTableItems(driftFanOut, props.table.table, TABLE_ACCESS.driftFanOut);
    this.driftCheck.grantStartExecution(driftFanOut);
    if (intervalMs > 0) {
      new Rule(this, "DriftCheckTick", {
        description: "One tick of the drift check schedule (the event's time names the tick)",
        schedule: Schedule.rate(Duration.minutes(tickSeconds / 60)),
        targets: [new LambdaFunctionTarget(driftFanOut, { retryAttempts: 2 })],
      });
    }

    return driftFanOut;
  }

  /** The watchdog of executions that ended without their outcome, and its dead-letter queue. */
  private executionWatchdog(
    props: OnboardingWorkflowProps,
    logRetention: RetentionDays,
  ): { watchdog: LambdaFunction; deadLetterQueue: Queue } {
    // A timed-out or aborted execution records nothing itself: the watchdog marks its run failed.
    const watchdog = new LambdaFunction(this, "ExecutionWatchdog", {
      entry: "functions/tasks/execution-watchdog.ts",
      description: "Marks a tenant failed when its workflow execution ended without recording an outcome",
      logRetention,
    });
    grantTableItems(watchdog, props.table.table, TABLE_ACCESS.watchdog);
    // An ended execution the watchdog never heard of leaves its tenant looking in flight until
    // someone reads it (the API then records it): keep the event, and alarm on it. Two ways it
    // is lost otherwise: EventBridge cannot invoke the function (the target's dead-letter queue),
    // or the function fails on it (Lambda's asynchronous retries, twice, then its on-failure
    // destination: the same queue, with the event as `requestPayload`).
    const deadLetterQueue = new Queue(this, "WatchdogDeadLetterQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself a dead-letter destination; an alarm fires on its first message.",
    });
    watchdog.configureAsyncInvoke({ onFailure: new SqsDestination(deadLetterQueue), retryAttempts: 2 });
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
        new LambdaFunctionTarget(watchdog, {
          retryAttempts: 8,
          deadLetterQueue: deadLetterQueue,
        }),
      ],
    });
    return { watchdog, deadLetterQueue };
  }
}
