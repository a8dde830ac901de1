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

describe("request limits", () => {
  type Setting = {
    HttpMethod: string;
    ResourcePath: string;
    ThrottlingRateLimit?: number;
    ThrottlingBurstLimit?: number;
  };
  const stageSettings = (all: Record<string, Resource>) =>
    ofType(all, "AWS::ApiGateway::Stage")[0]!.Properties["MethodSettings"] as Setting[];
  const plan = (all: Record<string, Resource>, suffix: string) =>
    ofType(all, "AWS::ApiGateway::UsagePlan")
      .map((p) => p.Properties)
      .find((p) => String(p["UsagePlanName"]).endsWith(suffix))!["Throttle"] as {
      RateLimit: number;
      BurstLimit: number;
    };

  it("each partner's usage plan is the limit that binds: the stage's is a safety net far above it", () => {
    const stage = stageSettings(resources).find((m) => m.ResourcePath === "/*")!;
    const partner = plan(resources, "-partners");
    // Twenty partners at their full rate at once still do not reach the stage's limit.
    expect(stage.ThrottlingRateLimit!).toBeGreaterThanOrEqual(20 * partner.RateLimit);
    expect(stage.ThrottlingBurstLimit!).toBeGreaterThanOrEqual(20 * partner.BurstLimit);
    // No method setting of the partners' routes is below the plan (it would bind for all of them).
    for (const m of stageSettings(resources)) {
      if (m.ResourcePath.startsWith("/v1") && !m.ResourcePath.includes("consent")) {
        expect(m.ThrottlingRateLimit ?? Number.POSITIVE_INFINITY, m.ResourcePath).toBeGreaterThan(
          partner.RateLimit,
        );
      }
    }
    expect(plan(resources, "-ops")).toEqual({ RateLimit: 50, BurstLimit: 100 });
  });

  it("keeps the health route's own small limit", () => {
    const setting = stageSettings(resources).find((m) => m.ResourcePath === "/~1health")!;
    expect(setting.ThrottlingRateLimit!).toBeLessThan(plan(resources, "-partners").RateLimit);
  });

  it("the consent callback's shared throttle: no one address can empty it; WAF's per-address limit binds first", () => {
    const settings = stageSettings(resources);
    const callback = settings.find((m) => m.ResourcePath === "/~1v1~1consent~1callback")!;
    const stage = settings.find((m) => m.ResourcePath === "/*")!;
    const waf = ofType(resources, "AWS::WAFv2::WebACL")[0]!.Properties["Rules"] as {
      Name: string;
      Statement: { RateBasedStatement: { Limit: number; EvaluationWindowSec: number } };
    }[];
    const perAddress = waf.find((r) => r.Name === "PublicRoutesPerAddress")!.Statement.RateBasedStatement;
    // Everything one address may send in WAF's window, all at once, takes at most half the burst.
    expect(callback.ThrottlingBurstLimit!).toBeGreaterThanOrEqual(2 * perAddress.Limit);
    // Its steady rate under WAF is a small share of the refill.
    expect(callback.ThrottlingRateLimit!).toBeGreaterThanOrEqual(
      (20 * perAddress.Limit) / perAddress.EvaluationWindowSec,
    );
    // Still a safety net: a twentieth of the stage's limit at most.
    expect(callback.ThrottlingRateLimit!).toBeLessThanOrEqual(stage.ThrottlingRateLimit! / 20);
  });
});
