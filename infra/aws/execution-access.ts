import { ArnFormat, Stack } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import type { LambdaFunction } from "./lambda-function.ts";
import { acknowledgeWildcard, attrRef } from "./nag.ts";

/**
 * Lets `fn` ask whether a tenant's run is alive (`states:DescribeExecution`) on `machine`'s
 * executions only. Execution names are per tenant and run (functions/domain/engine.ts), hence
 * the wildcard after the machine's name.
 */
export function grantDescribeExecutions(fn: LambdaFunction, machine: StateMachine): void {
  const executions = `${Stack.of(fn).formatArn({
    service: "states",
    resource: "execution",
    resourceName: machine.stateMachineName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  })}:*`;
  fn.addToRolePolicy(new PolicyStatement({ actions: ["states:DescribeExecution"], resources: [executions] }));
  acknowledgeWildcard(
    fn.executionRole,
    `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${attrRef(machine, "Name")}:*`,
    "DescribeExecution (is a tenant's run still alive?) acts on executions, whose names are per tenant and run: the grant is limited to this state machine's executions.",
  );
}
