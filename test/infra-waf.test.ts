/**
 * The stack's AWS WAF web ACL: a rate-based rule per client IP address on the routes without a
 * key, associated with the API stage; or one's own web ACL instead (`webAclArn`). On the
 * synthesised template (asset bundling skipped, as in infra.test.ts), cdk-nag included.
 */
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import nag from "cdk-nag";
import { describe, expect, it } from "vitest";
import { JournalOnboardingStack, type JournalOnboardingStackProps } from "../infra/aws/stack.ts";

function synth(props: JournalOnboardingStackProps = {}) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new JournalOnboardingStack(app, "JournalOnboarding", props);
  return { stack, template: Template.fromStack(stack) };
}

type Resource = { Type: string; Properties: Record<string, unknown> };

describe("the API's web ACL", () => {
  const { stack, template } = synth();
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const acls = Object.entries(resources).filter(([, r]) => r.Type === "AWS::WAFv2::WebACL");

  it("limits the public routes per client IP address and lets everything else through", () => {
    expect(acls).toHaveLength(1);
    const [, acl] = acls[0]!;
    expect(acl.Properties).toMatchObject({ Scope: "REGIONAL", DefaultAction: { Allow: {} } });
    const rules = acl.Properties["Rules"] as Record<string, Record<string, unknown>>[];
    expect(rules).toHaveLength(2);
    const rule = rules[0]!;
    expect(rule["Action"]).toEqual({
      Block: {
        CustomResponse: {
          ResponseCode: 429,
          CustomResponseBodyKey: "tooManyRequests",
          ResponseHeaders: [{ Name: "retry-after", Value: "60" }],
        },
      },
    });
    const rate = (rule["Statement"] as Record<string, Record<string, unknown>>)["RateBasedStatement"]!;
    expect(rate).toMatchObject({ AggregateKeyType: "IP", Limit: 300, EvaluationWindowSec: 300 });
    // Scoped to the routes without a key: health, the consent callback, the console.
    const paths = (
      rate["ScopeDownStatement"] as {
        OrStatement: { Statements: { ByteMatchStatement: Record<string, unknown> }[] };
      }
    ).OrStatement.Statements.map((s) => s.ByteMatchStatement);
    expect(paths.map((p) => p["SearchString"])).toEqual(["/health", "/v1/consent/callback", "/console"]);
    for (const p of paths) {
      expect(p).toMatchObject({ FieldToMatch: { UriPath: {} }, PositionalConstraint: "CONTAINS" });
    }
    const body = (acl.Properties["CustomResponseBodies"] as Record<string, { Content: string }>)[
      "tooManyRequests"
    ]!;
    expect(JSON.parse(body.Content)).toMatchObject({ status: 429, title: "Too Many Requests" });
  });

  it("limits every route per client IP address too: made-up keys from one address cannot use up the stage's throttle", () => {
    const rules = acls[0]![1].Properties["Rules"] as Record<string, unknown>[];
    const rule = rules.find((r) => r["Name"] === "AllRoutesPerAddress");
    expect(rule).toBeDefined();
    expect(rule!["Action"]).toEqual(rules[0]!["Action"]);
    const rate = (rule!["Statement"] as Record<string, Record<string, unknown>>)["RateBasedStatement"]!;
    // Keyed or not: WAF cannot tell an unknown key from a valid one. No scope-down statement.
    expect(rate).toEqual({ AggregateKeyType: "IP", Limit: 30_000, EvaluationWindowSec: 300 });
  });

  it("is associated with the API stage", () => {
    const [aclId] = acls[0]!;
    template.hasResourceProperties("AWS::WAFv2::WebACLAssociation", {
      WebACLArn: { "Fn::GetAtt": [aclId, "Arn"] },
      ResourceArn: Match.anyValue(),
    });
    const association = Object.values(resources).find((r) => r.Type === "AWS::WAFv2::WebACLAssociation")!;
    const stageId = stack.getLogicalId(stack.api.api.deploymentStage.node.defaultChild as never);
    expect(JSON.stringify(association.Properties["ResourceArn"])).toContain(stageId);
  });

  it("cdk-nag finds nothing unacknowledged, and APIG3 (a WAF on the stage) is met, not acknowledged", () => {
    const report = new nag.AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === "aws:cdk:acknowledged-rules"))
      .flatMap((m) => Object.keys(m.data as Record<string, string>));
    // Keys read `Annotation::AwsSolutions-APIG3`.
    expect(acknowledged.filter((id) => id.includes("AwsSolutions-APIG3"))).toEqual([]);
  });

  it("with webAclArn, one's own web ACL is associated instead and none is created", () => {
    const own =
      "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/own/11111111-2222-3333-4444-555555555555";
    const custom = synth({ webAclArn: own });
    custom.template.resourceCountIs("AWS::WAFv2::WebACL", 0);
    custom.template.hasResourceProperties("AWS::WAFv2::WebACLAssociation", { WebACLArn: own });
    expect(new nag.AwsSolutionsChecks().validateScope(custom.stack).violations).toEqual([]);
  });
});
