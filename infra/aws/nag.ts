import { type CfnElement, Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * How cdk-nag writes a resource attribute inside a finding id, e.g. `<TenantsTable97BAC775.Arn>`.
 * `construct` is an L2 (its default child is used) or an L1.
 */
export function attrRef(construct: IConstruct, attribute = "Arn"): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return `<${Stack.of(element).getLogicalId(element)}.${attribute}>`;
}

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM5 finding for one wildcard resource on `scope`'s
 * policies (cdk-nag v3 wants each finding by id: `AwsSolutions-IAM5[Resource::<resource>]`).
 */
export function acknowledgeWildcard(scope: IConstruct, resource: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
}
