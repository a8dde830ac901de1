/**
 * What API Gateway itself decides before the API function runs, read from the synthesised
 * template: which Authorization headers reach the authorizer, which limits bind a caller.
 */
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { bearerKey } from "../functions/api/auth.ts";
import { JournalOnboardingStack, type JournalOnboardingStackProps } from "../infra/aws/stack.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };

function synth(props: JournalOnboardingStackProps = {}, name = "JournalOnboarding") {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new JournalOnboardingStack(app, name, props);
  return { stack, resources: Template.fromStack(stack).toJSON().Resources as Record<string, Resource> };
}

let resources: Record<string, Resource>;
beforeAll(() => {
  ({ resources } = synth());
});
const ofType = (all: Record<string, Resource>, type: string) =>
  Object.values(all).filter((r) => r.Type === type);

describe("the authorizer's header check", () => {
  it("lets through what the API reads as a bearer key, the scheme in any case (RFC 9110)", () => {
    const [authorizer] = ofType(resources, "AWS::ApiGateway::Authorizer");
    const gateway = new RegExp(String(authorizer!.Properties["IdentityValidationExpression"]));
    const samples = [
      "Bearer jok_abc",
      "bearer jok_abc",
      "BEARER jok_abc",
      "bEaReR jops_x-y_z",
      "Bearer  jok_two_spaces",
      "Bearer jok_trailing ",
      "Bearer",
      "Bearer ",
      "Basic dXNlcjpwYXNz",
      "Bearerjok_abc",
      "Bearer jok abc",
      `Bearer ${"k".repeat(512)}`,
      `Bearer ${"k".repeat(513)}`,
      "Bearer jök",
    ];
    for (const header of samples) {
      expect(gateway.test(header), header).toBe(bearerKey(header) !== undefined);
    }
    expect(gateway.test("bearer jok_abc")).toBe(true);
  });
});
