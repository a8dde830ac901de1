import { Duration } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction as LambdaFunctionTarget } from "aws-cdk-lib/aws-events-targets";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import { STRANDED_SETTLED_MS } from "../../functions/domain/workflow-runs.ts";
import { grantDescribeExecutions } from "./execution-access.ts";
import { LambdaFunction } from "./lambda-function.ts";
import { grantTableItems, TABLE_ACCESS } from "./table-access.ts";
import type { TenantTable } from "./tenant-table.ts";

export interface StrandedSweepProps {
  readonly table: TenantTable;
  readonly onboarding: StateMachine;
  readonly offboarding: StateMachine;
  readonly logRetention: RetentionDays;
  /** STRANDED_AFTER_SECONDS. @default 300 (STRANDED_SETTLED_MS) */
  readonly afterSeconds?: number;
}

/**
 * The stranded-run sweep (`functions/tasks/stranded-sweep.ts`) and its schedule, every minute
 * whatever the drift settings: a tenant left `queued`, `running` or `offboarding` with no live
 * execution (its start never happened, or the event of its end was lost) is recorded failed
 * with INTERRUPTED 5 minutes (`afterSeconds`) after its last status change. It reads the in-flight entries of
 * the drift index, writes only tenant items, and describes only the two workflows' executions.
 */
export function strandedSweep(scope: Construct, props: StrandedSweepProps): LambdaFunction {
  const fn = new LambdaFunction(scope, "StrandedSweep", {
    entry: "functions/tasks/stranded-sweep.ts",
    description: "Records tenants whose workflow run has no live execution as failed (INTERRUPTED)",
    // A page of 200 tenants, 20 at a time (about 100 ms each; a young run's second look 3 s later).
    timeout: Duration.seconds(55),
    logRetention: props.logRetention,
    environment: {
      STATE_MACHINE_ARN: props.onboarding.stateMachineArn,
      OFFBOARDING_STATE_MACHINE_ARN: props.offboarding.stateMachineArn,
      STRANDED_AFTER_SECONDS: String(props.afterSeconds ?? STRANDED_SETTLED_MS / 1000),
    },
  });
  grantTableItems(fn, props.table.table, TABLE_ACCESS.strandedSweep);
  grantDescribeExecutions(fn, props.onboarding);
  grantDescribeExecutions(fn, props.offboarding);
  new Rule(scope, "StrandedSweepTick", {
    description: "The stranded-run sweep, every minute (a missed tick is made up by the next one)",
    schedule: Schedule.rate(Duration.minutes(1)),
    targets: [new LambdaFunctionTarget(fn, { retryAttempts: 0 })],
  });
  return fn;
}
