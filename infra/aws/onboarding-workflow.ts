import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction as LambdaFunctionTarget } from "aws-cdk-lib/aws-events-targets";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import {
  offboardingDefinition,
  onboardingDefinition,
  TASK_FUNCTION,
  TASK_TIMEOUT_SECONDS,
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
  /** The task function of both workflows. */
  readonly task: LambdaFunction;
  /** Records runs whose execution ended FAILED, TIMED_OUT or ABORTED without their outcome. */
  readonly watchdog: LambdaFunction;

  constructor(scope: Construct, id: string, props: OnboardingWorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

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
    this.task = fn;

    const machine = (machineId: string, definition: object) => {
      const json = JSON.stringify(definition);
      const logs = new LogGroup(this, `${machineId}Logs`, {
        // The vendedlogs prefix keeps CloudWatch Logs' resource policy from growing per log group.
        logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${machineId}`,
        retention: logRetention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const sm = new StateMachine(this, machineId, {
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: DefinitionBody.fromString(json),
        definitionSubstitutions: { [TASK_FUNCTION.name]: fn.functionArn },
        logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
      });
      if (!json.includes(PLACEHOLDER)) throw new Error(`${machineId} calls no task`);
      fn.grantInvoke(sm);
      acknowledgeWildcard(
        sm,
        `${attrRef(fn)}:*`,
        "grantInvoke also covers the function's versions and aliases (ARN:*).",
      );
      acknowledgeWildcard(
        sm,
        "*",
        "Log delivery (logs:*LogDelivery, DescribeLogGroups, PutResourcePolicy) and X-Ray actions have no resource-level permissions.",
      );
      return sm;
    };
    this.onboarding = machine(
      "Onboarding",
      onboardingDefinition(() => PLACEHOLDER),
    );
    this.offboarding = machine(
      "Offboarding",
      offboardingDefinition(() => PLACEHOLDER),
    );

    // A timed-out or aborted execution records nothing itself: the watchdog marks its run failed.
    this.watchdog = new LambdaFunction(this, "ExecutionWatchdog", {
      entry: "functions/tasks/execution-watchdog.ts",
      description: "Marks a tenant failed when its workflow execution ended without recording an outcome",
      logRetention,
    });
    grantTableItems(this.watchdog, props.table.table, TABLE_ACCESS.watchdog);
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
      targets: [new LambdaFunctionTarget(this.watchdog, { retryAttempts: 8 })],
    });
  }
}
