/**
 * Every setting of docs/deploy.md as `-c name=value`: given to a CDK app's context, read by the
 * app's own code (infra/aws/app-context.ts), and seen in the synthesised template. Also the
 * table's upgrade in steps: one global secondary index changed per deployment.
 */
import { readFileSync } from "node:fs";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { CONTEXT_SETTINGS, stackFromContext } from "../infra/aws/app-context.ts";
import type { JournalOnboardingStack } from "../infra/aws/stack.ts";
import { CURRENT_INDEXES, tableIndexes, UPGRADE_FROM_FIRST_VERSION } from "../infra/aws/table-indexes.ts";
import { TenantTable } from "../infra/aws/tenant-table.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };

function synth(context: Record<string, string>) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [], ...context } });
  const stack = stackFromContext(app);
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  const ofType = (t: string) => Object.values(resources).filter((r) => r.Type === t);
  const props = (c: { node: { defaultChild?: unknown } }) =>
    resources[stack.getLogicalId(c.node.defaultChild as never)]!.Properties;
  const env = (c: { node: { defaultChild?: unknown } }) =>
    (props(c)["Environment"] as { Variables: Record<string, unknown> }).Variables;
  return { stack, ofType, props, env };
}

const KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const WEBHOOK_KEY = "arn:aws:kms:eu-west-1:123456789012:key/66666666-2222-3333-4444-555555555555";
const ALL = {
  alarmEmail: "ops@example.com",
  m365Cloud: "usgovhigh",
  webAclArn: "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/acl/abc",
  stackName: "JournalOnboardingTest",
  m365ClientId: "00000000-1111-2222-3333-444444444444",
  consentRedirectUri: "https://onboarding.example.com/v1/consent/callback",
  driftCheckInterval: "2h",
  driftRemediationsPerDay: "5",
  strandedAfterSeconds: "600",
  eventRetentionDays: "30",
  offboardedRetentionDays: "7",
  reservedConcurrency: "api=10,authorizer=5",
  partnerRateLimit: "10/20",
  opsRateLimit: "5/10",
  apiThrottling: "2000/4000",
  tableIndexes: "gsi3,gsi4,gsi5",
  tableEncryptionKeyArn: KEY,
  webhookSecretKeyArn: WEBHOOK_KEY,
};

describe("every setting as -c name=value", () => {
  let s: ReturnType<typeof synth>;
  let stack: JournalOnboardingStack;
  beforeAll(() => {
    s = synth(ALL);
    stack = s.stack;
  });

  it("docs/deploy.md lists exactly the settings the app reads", () => {
    const docs = readFileSync(new URL("../docs/deploy.md", import.meta.url), "utf8");
    const table = docs.slice(docs.indexOf("| context | meaning |"), docs.indexOf("`npx cdk synth` runs"));
    const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...CONTEXT_SETTINGS].sort());
    expect(Object.keys(ALL).sort()).toEqual([...CONTEXT_SETTINGS].sort());
  });

  it("names, cloud, consent and alarm settings", () => {
    expect(stack.stackName).toBe("JournalOnboardingTest");
    expect(s.env(stack.workflow.task)["M365_CLOUD"]).toBe("usgovhigh");
    expect(s.env(stack.api.handler)).toMatchObject({
      M365_CLIENT_ID: ALL.m365ClientId,
      M365_CONSENT_REDIRECT_URI: ALL.consentRedirectUri,
    });
    expect(s.ofType("AWS::WAFv2::WebACLAssociation")[0]!.Properties["WebACLArn"]).toBe(ALL.webAclArn);
    expect(s.ofType("AWS::SNS::Subscription")[0]!.Properties["Endpoint"]).toBe(ALL.alarmEmail);
  });

  it("drift and retention settings", () => {
    expect(s.env(stack.workflow.driftFanOut)["DRIFT_CHECK_INTERVAL"]).toBe("2h");
    expect(s.env(stack.workflow.strandedSweep)["STRANDED_AFTER_SECONDS"]).toBe("600");
    expect(s.env(stack.workflow.task)).toMatchObject({
      DRIFT_REMEDIATIONS_PER_DAY: "5",
      EVENT_RETENTION_DAYS: "30",
      OFFBOARDED_RETENTION_DAYS: "7",
    });
    expect(
      s.ofType("AWS::Events::Rule").some((r) => r.Properties["ScheduleExpression"] === "rate(2 minutes)"),
    ).toBe(true);
  });

  it("concurrency per function (the others keep their defaults) and request limits", () => {
    expect(s.props(stack.api.handler)["ReservedConcurrentExecutions"]).toBe(10);
    expect(s.props(stack.api.authorizer)["ReservedConcurrentExecutions"]).toBe(5);
    expect(s.props(stack.webhooks.dispatcher)["ReservedConcurrentExecutions"]).toBe(20);
    const plans = s.ofType("AWS::ApiGateway::UsagePlan").map((p) => p.Properties);
    const plan = (suffix: string) =>
      plans.find((p) => String(p["UsagePlanName"]).endsWith(suffix))!["Throttle"];
    expect(plan("-partners")).toEqual({ RateLimit: 10, BurstLimit: 20 });
    expect(plan("-ops")).toEqual({ RateLimit: 5, BurstLimit: 10 });
    const stage = s.ofType("AWS::ApiGateway::Stage")[0]!.Properties["MethodSettings"] as Record<
      string,
      unknown
    >[];
    expect(stage.find((m) => m["ResourcePath"] === "/*")).toMatchObject({
      ThrottlingRateLimit: 2000,
      ThrottlingBurstLimit: 4000,
    });
  });

  it("keys and indexes", () => {
    const [table] = s.ofType("AWS::DynamoDB::Table");
    expect(table!.Properties["SSESpecification"]).toMatchObject({ KMSMasterKeyId: KEY, SSEType: "KMS" });
    expect(s.env(stack.api.handler)["WEBHOOK_SECRET_KEY_ID"]).toBe(WEBHOOK_KEY);
    expect(s.ofType("AWS::KMS::Key")).toHaveLength(0);
    const names = (table!.Properties["GlobalSecondaryIndexes"] as { IndexName: string }[]).map(
      (i) => i.IndexName,
    );
    expect(names).toEqual(["gsi3", "gsi4", "gsi5"]);
  });

  it("sizes the stage's limit to the API function's reserved instances unless apiThrottling is given", () => {
    const small = synth({ reservedConcurrency: "api=20" });
    const stage = small.ofType("AWS::ApiGateway::Stage")[0]!.Properties["MethodSettings"] as Record<
      string,
      unknown
    >[];
    expect(stage.find((m) => m["ResourcePath"] === "/*")).toMatchObject({
      ThrottlingRateLimit: 200,
      ThrottlingBurstLimit: 400,
    });
  });

  it("reservedConcurrency=off reserves nothing", () => {
    const off = synth({ reservedConcurrency: "off" });
    expect(
      off.ofType("AWS::Lambda::Function").filter((f) => f.Properties["ReservedConcurrentExecutions"]),
    ).toEqual([]);
  });

  it("refuses a value it cannot read instead of deploying a default", () => {
    const bad: Record<string, string>[] = [
      { reservedConcurrency: "api=0" },
      { reservedConcurrency: "lots" },
      { partnerRateLimit: "fast" },
      { eventRetentionDays: "0" },
      { tableIndexes: "gsi9" },
      { driftCheckInterval: "90s" },
      { strandedAfterSeconds: "30" },
    ];
    for (const context of bad) {
      expect(() => synth(context), JSON.stringify(context)).toThrow();
    }
  });
});

describe("upgrading the table in steps", () => {
  const indexesOf = (names?: readonly string[]) => {
    const stack = new Stack(new App(), "T");
    const table = new TenantTable(stack, "Tenants", names ? { indexes: names } : {});
    void table;
    const [t] = Object.values(
      Template.fromStack(stack).toJSON().Resources as Record<string, Resource>,
    ).filter((r) => r.Type === "AWS::DynamoDB::Table");
    return (t!.Properties["GlobalSecondaryIndexes"] as { IndexName: string }[]).map((i) => i.IndexName);
  };

  it("changes one global secondary index per deployment, from the first version's to this version's", () => {
    const steps = [["gsi1", "gsi2"], ...UPGRADE_FROM_FIRST_VERSION.map((n) => indexesOf(n)), indexesOf()];
    expect(steps.at(-1)).toEqual(CURRENT_INDEXES.map((i) => i.name));
    for (let i = 1; i < steps.length; i++) {
      const before = new Set(steps[i - 1]);
      const after = new Set(steps[i]);
      const changed =
        [...before].filter((n) => !after.has(n)).length + [...after].filter((n) => !before.has(n)).length;
      expect(changed, `${steps[i - 1]} -> ${steps[i]}`).toBe(1);
    }
    // From the previous version (gsi3, gsi4): one change as well.
    expect(indexesOf().filter((n) => !["gsi3", "gsi4"].includes(n))).toEqual(["gsi5"]);
  });

  it("docs/deploy.md gives these steps", () => {
    const docs = readFileSync(new URL("../docs/deploy.md", import.meta.url), "utf8");
    for (const step of UPGRADE_FROM_FIRST_VERSION) {
      expect(docs).toContain(`npx cdk deploy -c tableIndexes=${step.join(",")}`);
    }
    expect(() => tableIndexes([])).toThrow();
  });
});
