/**
 * The AWS stack, synthesised in process with asset bundling skipped (the `aws:cdk:bundling-stacks`
 * context set to none: NodejsFunction then neither runs esbuild nor hashes the repository).
 * Real bundling and the CDK CLI are covered by `infra-bundling.test.ts`.
 */
import { App, Stack, Token } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { Queue } from "aws-cdk-lib/aws-sqs";
import nag from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { TABLE_INDEXES, TABLE_KEYS } from "../functions/adapters/dynamodb/schema.ts";
import { usageKeyValue } from "../functions/api/usage-key.ts";
import { ERROR_CATALOGUE } from "../functions/domain/error-catalogue.ts";
import { JournalOnboardingStack, type JournalOnboardingStackProps } from "../infra/aws/stack.ts";
import { TASK_FUNCTION, taskStates, WORKFLOW_TASKS } from "../workflows/definition.ts";

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

function synth(props: JournalOnboardingStackProps = {}) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new JournalOnboardingStack(app, "JournalOnboarding", props);
  return { stack, template: Template.fromStack(stack) };
}

let stack: JournalOnboardingStack;
let template: Template;
let resources: Record<string, Resource>;

beforeAll(() => {
  ({ stack, template } = synth());
  resources = template.toJSON().Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
const envOf = (fn: { node: { defaultChild?: unknown } }) => {
  const props = resources[logicalId(fn)]!.Properties as {
    Environment: { Variables: Record<string, unknown> };
  };
  return props.Environment.Variables;
};
/** Statements of the policies attached to a role. */
const statementsOf = (roleLogicalId: string) =>
  ofType("AWS::IAM::Policy")
    .filter(([, p]) => JSON.stringify(p.Properties["Roles"]).includes(`"${roleLogicalId}"`))
    .flatMap(
      ([, p]) => (p.Properties["PolicyDocument"] as { Statement: Record<string, unknown>[] }).Statement,
    );
const allows = (roleLogicalId: string, action: string, resourceRef: string) =>
  statementsOf(roleLogicalId).some(
    (s) =>
      s["Effect"] === "Allow" &&
      [s["Action"]].flat().includes(action) &&
      JSON.stringify(s["Resource"]).includes(`"${resourceRef}"`),
  );

describe("tenant table", () => {
  it("has the shared key schema, both indexes projecting keys and status only, on demand", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      GlobalSecondaryIndexes: Object.values(TABLE_INDEXES).map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["status"] },
      })),
    });
    const [, table] = ofType("AWS::DynamoDB::Table")[0]!;
    const attributes = table.Properties["AttributeDefinitions"] as {
      AttributeName: string;
      AttributeType: string;
    }[];
    expect(attributes.every((a) => a.AttributeType === "S")).toBe(true);
  });

  it("keeps data: PITR, TTL on expiresAt, retained, deletion protection, encrypted with the AWS-managed key", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: Match.objectLike({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        DeletionProtectionEnabled: true,
        // SSEEnabled without a key id: KMS with the AWS-managed key aws/dynamodb.
        SSESpecification: Match.exact({ SSEEnabled: true }),
        StreamSpecification: { StreamViewType: "NEW_IMAGE" },
      }),
    });
    expect(stack.table.ttlAttribute).toBe(TABLE_KEYS.ttl);
  });
});

describe("functions", () => {
  it("all run Node.js 24 on arm64 with active tracing and their own retained log group", () => {
    const functions = ofType("AWS::Lambda::Function");
    // API, authorizer, dispatcher, stream forwarder, execution watchdog, drift fan-out, stranded
    // sweep and the one task function.
    expect(functions).toHaveLength(8);
    const logGroups = new Map(ofType("AWS::Logs::LogGroup"));
    for (const [id, fn] of functions) {
      expect(fn.Properties, id).toMatchObject({
        Runtime: "nodejs24.x",
        Architectures: ["arm64"],
        TracingConfig: { Mode: "Active" },
        Handler: "index.handler",
      });
      const logGroupRef = (fn.Properties["LoggingConfig"] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      const logGroup = logGroups.get(logGroupRef);
      expect(logGroup?.Properties["RetentionInDays"], id).toBe(30);
      expect(logGroup?.DeletionPolicy, id).toBe("Retain");
    }
  });

  it("use their own roles: no managed policies, logs only to their own log group", () => {
    for (const [id, fn] of ofType("AWS::Lambda::Function")) {
      const roleId = (fn.Properties["Role"] as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
      expect(resources[roleId]!.Properties["ManagedPolicyArns"], id).toBeUndefined();
      const logGroupRef = (fn.Properties["LoggingConfig"] as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(allows(roleId, "logs:PutLogEvents", logGroupRef), id).toBe(true);
    }
  });

  it("get the environment their code reads", () => {
    const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: logicalId(construct) });
    const table = ref(stack.table.table);
    const api = envOf(stack.api.handler);
    expect(api).toMatchObject({
      TABLE_NAME: table,
      STATE_MACHINE_ARN: ref(stack.workflow.onboarding),
      OFFBOARDING_STATE_MACHINE_ARN: ref(stack.workflow.offboarding),
      WEBHOOK_QUEUE_URL: ref(stack.webhooks.queue),
      OPS_API_KEY_SECRET_ARN: ref(stack.api.opsApiKey),
      POWERTOOLS_SERVICE_NAME: "journal-onboarding",
      POWERTOOLS_METRICS_NAMESPACE: "JournalOnboarding",
    });
    // The consent callback redeems the customer admin's sign-in with the app's credential.
    expect(api["M365_SECRET_ARN"]).toEqual(ref(stack.credentials.secret));
    expect(envOf(stack.api.authorizer)).toMatchObject({
      TABLE_NAME: table,
      OPS_API_KEY_SECRET_ARN: ref(stack.api.opsApiKey),
    });
    for (const fn of [stack.webhooks.dispatcher, stack.webhooks.streamForwarder]) {
      expect(envOf(fn)).toMatchObject({ TABLE_NAME: table, WEBHOOK_QUEUE_URL: ref(stack.webhooks.queue) });
    }
    expect(envOf(stack.workflow.task)).toMatchObject({
      TABLE_NAME: table,
      M365_SECRET_ARN: ref(stack.credentials.secret),
      M365_CLOUD: "global",
    });
  });

  it("get table access to match: the authorizer reads API keys, the others read and write", async () => {
    const table = logicalId(stack.table.table);
    const roleOf = (fn: { executionRole: { node: { defaultChild?: unknown } } }) =>
      logicalId(fn.executionRole);
    expect(allows(roleOf(stack.api.authorizer), "dynamodb:GetItem", table)).toBe(true);
    expect(allows(roleOf(stack.api.authorizer), "dynamodb:PutItem", table)).toBe(false);
    // ... and only API key items: no queries, no tenants, no webhook secrets.
    for (const action of ["dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem"]) {
      expect(allows(roleOf(stack.api.authorizer), action, table), action).toBe(false);
    }
    const getItem = statementsOf(roleOf(stack.api.authorizer)).find((st) =>
      [st["Action"]].flat().includes("dynamodb:GetItem"),
    );
    expect(getItem?.["Condition"]).toEqual({
      "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["APIKEY#*"] },
    });
    const { apiKeyKey } = await import("../functions/adapters/dynamodb/keys.ts");
    expect(apiKeyKey("ab12").pk).toBe("APIKEY#ab12"); // the key the store reads
    for (const fn of [stack.api.handler, stack.webhooks.dispatcher, stack.workflow.task]) {
      expect(allows(roleOf(fn), "dynamodb:PutItem", table)).toBe(true);
    }
  });

  it("reach only the item types they use (LeadingKeys per function, table and indexes)", () => {
    const table = logicalId(stack.table.table);
    const fns: Record<string, { executionRole: { node: { defaultChild?: unknown } } }> = {
      Authorizer: stack.api.authorizer,
      Api: stack.api.handler,
      WebhookDispatcher: stack.webhooks.dispatcher,
      WebhookStreamForwarder: stack.webhooks.streamForwarder,
      ExecutionWatchdog: stack.workflow.watchdog,
      StrandedSweep: stack.workflow.strandedSweep,
      WorkflowTask: stack.workflow.task,
    };
    const access: Record<string, Record<string, string>> = {};
    for (const [name, fn] of Object.entries(fns)) {
      // Item actions; the stream forwarder's stream reads (ListStreams, GetRecords, ...) aside.
      const STREAM = [
        "dynamodb:ListStreams",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
      ];
      const statements = statementsOf(logicalId(fn.executionRole)).filter((st) =>
        [st["Action"]].flat().some((a) => String(a).startsWith("dynamodb:") && !STREAM.includes(String(a))),
      );
      const row: Record<string, string> = {};
      for (const st of statements) {
        const resource = JSON.stringify(st["Resource"]);
        expect(resource, name).toContain(table);
        // Every grant on the table is bounded by partition key values; no Scan anywhere.
        expect([st["Action"]].flat(), name).not.toContain("dynamodb:Scan");
        const keys = (st["Condition"] as Record<string, Record<string, string[]>>)?.[
          "ForAllValues:StringLike"
        ]?.["dynamodb:LeadingKeys"];
        expect(keys, `${name} ${resource}`).toBeDefined();
        const where = /index\/(\w+)/.exec(resource)?.[1] ?? "table";
        const actions = [st["Action"]].flat().length === 1 ? ` (${[st["Action"]].flat()[0]})` : "";
        row[where] = `${keys!.join(" ")}${actions}`;
      }
      access[name] = row;
    }
    // The table printed in the test output: function -> item types it reaches.
    console.log(
      Object.entries(access)
        .map(
          ([fn, row]) =>
            `${fn.padEnd(28)} ${Object.entries(row)
              .map(([w, k]) => `${w}: ${k}`)
              .join(" | ")}`,
        )
        .join("\n"),
    );
    const task = { table: "TENANT#*" };
    expect(access).toEqual({
      Authorizer: { table: "APIKEY#* (dynamodb:GetItem)" },
      Api: {
        table: "TENANT#* PARTNER#* APIKEY#* IDEMPOTENCY#* WEBHOOK#* WEBHOOK_DELIVERIES#* CUSTOMER#* SIGNIN#*",
        gsi3: "TENANTS#* WEBHOOK_DELIVERIES#* (dynamodb:Query)",
        gsi4: "TENANTS#ALL#* PARTNERS WEBHOOK_DELIVERIES#ALL#* (dynamodb:Query)",
      },
      WebhookDispatcher: { table: "WEBHOOK#* WEBHOOK_DELIVERIES#*" },
      WebhookStreamForwarder: task,
      ExecutionWatchdog: task,
      StrandedSweep: {
        table: "TENANT#* SCHEDULE#*",
        gsi4: "TENANTS#ALL#* (dynamodb:Query)",
        gsi5: "INFLIGHT#* (dynamodb:Query)",
      },
      // The one task function: the union of the tasks' access, which is the same for each, and
      // the tenants' Exchange leases.
      WorkflowTask: { table: "TENANT#* EXCHANGE_LEASE#*" },
    });
  });

  it("webhook secrets: only the dispatcher may decrypt them with their KMS key; the API may only encrypt", () => {
    const key = logicalId(stack.webhookSecretKey as unknown as { node: { defaultChild?: unknown } });
    const roles = ofType("AWS::IAM::Role").map(([id]) => id);
    const decrypting = roles.filter((role) => allows(role, "kms:Decrypt", key));
    expect(decrypting).toEqual([logicalId(stack.webhooks.dispatcher.executionRole)]);
    const encrypting = roles.filter((role) => allows(role, "kms:Encrypt", key));
    expect(encrypting).toEqual([logicalId(stack.api.handler.executionRole)]);
    template.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
  });

  it("the API function may start and describe both workflows' executions, and nothing more", () => {
    const role = logicalId(stack.api.handler.executionRole);
    for (const machine of [stack.workflow.onboarding, stack.workflow.offboarding]) {
      const id = logicalId(machine);
      expect(allows(role, "states:StartExecution", id)).toBe(true);
      expect(allows(role, "states:DescribeExecution", id)).toBe(true);
      expect(allows(role, "states:RedriveExecution", id)).toBe(false);
    }
  });

  it("the stranded-run sweep runs every minute, reads in-flight tenants and may only describe both workflows' executions", () => {
    const fn = stack.workflow.strandedSweep;
    const role = logicalId(fn.executionRole);
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [logicalId(fn), "Arn"] } })],
    });
    expect(envOf(fn)).toMatchObject({ STRANDED_AFTER_SECONDS: "300" });
    const states = statementsOf(role).filter((st) =>
      [st["Action"]].flat().some((a) => String(a).startsWith("states:")),
    );
    expect(states.map((st) => st["Action"])).toEqual([
      "states:DescribeExecution",
      "states:DescribeExecution",
    ]);
    for (const machine of [stack.workflow.onboarding, stack.workflow.offboarding]) {
      expect(allows(role, "states:DescribeExecution", logicalId(machine))).toBe(true);
      expect(allows(role, "states:StartExecution", logicalId(machine))).toBe(false);
    }
  });

  it("passes environment overrides for a national cloud to the tasks only", () => {
    const gov = synth({ m365Cloud: "usgovhigh", m365Endpoints: { graph: "https://graph.example.test" } });
    const fn = gov.stack.workflow.task;
    const props =
      gov.template.toJSON().Resources[gov.stack.getLogicalId(fn.node.defaultChild as never)].Properties;
    expect(props.Environment.Variables).toMatchObject({
      M365_CLOUD: "usgovhigh",
      M365_GRAPH_ENDPOINT: "https://graph.example.test",
    });
    expect(() => synth({ m365Cloud: "moon" as never })).toThrow(/m365Cloud must be one of/);
  });

  it("gives retention and drift settings to the functions that use them", () => {
    const custom = synth({
      eventRetentionDays: 30,
      offboardedRetentionDays: 7,
      driftCheckInterval: "0",
      driftRemediationsPerDay: 1,
    });
    const env = (fn: { node: { defaultChild: unknown } }) =>
      custom.template.toJSON().Resources[custom.stack.getLogicalId(fn.node.defaultChild as never)].Properties
        .Environment.Variables;
    const { api, webhooks, workflow } = custom.stack;
    for (const fn of [api.handler, webhooks.dispatcher, webhooks.streamForwarder, workflow.task]) {
      expect(env(fn)).toMatchObject({ EVENT_RETENTION_DAYS: "30", OFFBOARDED_RETENTION_DAYS: "7" });
    }
    expect(env(workflow.task)).toMatchObject({ DRIFT_REMEDIATIONS_PER_DAY: "1" });
    // Interval 0: no drift schedule, drift checks on demand only; the stranded-run sweep stays.
    const resources = Object.values(
      custom.template.toJSON().Resources as Record<
        string,
        { Type: string; Properties: Record<string, unknown> }
      >,
    );
    const ticks = resources.filter(
      (r) => r.Type === "AWS::Events::Rule" && r.Properties["ScheduleExpression"] !== undefined,
    );
    const sweep = custom.stack.getLogicalId(custom.stack.workflow.strandedSweep.node.defaultChild as never);
    expect(
      ticks.map((r) => [r.Properties["ScheduleExpression"], JSON.stringify(r.Properties["Targets"])]),
    ).toEqual([["rate(1 minute)", expect.stringContaining(`"${sweep}"`)]]);
    const defaults =
      template.toJSON().Resources[stack.getLogicalId(stack.workflow.task.node.defaultChild as never)];
    expect(defaults.Properties.Environment.Variables).not.toHaveProperty("EVENT_RETENTION_DAYS");
  });
});

describe("workflows", () => {
  it("send executions that failed, timed out or were aborted to the watchdog", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        detail: {
          status: ["FAILED", "TIMED_OUT", "ABORTED"],
          stateMachineArn: [
            { Ref: logicalId(stack.workflow.onboarding) },
            { Ref: logicalId(stack.workflow.offboarding) },
          ],
        },
      },
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [logicalId(stack.workflow.watchdog), "Arn"] } })],
    });
  });

  it("are STANDARD state machines (EXPRESS for the drift check) logging ALL with X-Ray tracing", () => {
    const machines = ofType("AWS::StepFunctions::StateMachine");
    expect(machines).toHaveLength(3);
    const driftId = logicalId(stack.workflow.driftCheck);
    for (const [id, machine] of machines) {
      expect(machine.Properties, id).toMatchObject({
        StateMachineType: id === driftId ? "EXPRESS" : "STANDARD",
        LoggingConfiguration: { Level: "ALL", IncludeExecutionData: false },
        TracingConfiguration: { Enabled: true },
      });
    }
  });

  it("send every Task state to the one task function, naming the task in its payload", () => {
    const taskFunction = logicalId(stack.workflow.task);
    for (const [id, machine] of ofType("AWS::StepFunctions::StateMachine")) {
      const definition = machine.Properties["DefinitionString"];
      expect(typeof definition, id).toBe("string");
      const placeholders = new Set([...(definition as string).matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]!));
      expect(placeholders, id).toEqual(new Set([TASK_FUNCTION.name]));
      expect(machine.Properties["DefinitionSubstitutions"], id).toEqual({
        [TASK_FUNCTION.name]: { "Fn::GetAtt": [taskFunction, "Arn"] },
      });
      for (const { resource, parameters } of taskStates(JSON.parse(definition as string))) {
        expect(resource, id).toBe(`\${${TASK_FUNCTION.name}}`);
        expect(WORKFLOW_TASKS, id).toContain(parameters["task"]);
      }
    }
  });

  it("each state machine may invoke the task function, and no other function", () => {
    const roleOf = (machine: typeof stack.workflow.onboarding) =>
      (resources[logicalId(machine)]!.Properties["RoleArn"] as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
    for (const machine of [stack.workflow.onboarding, stack.workflow.offboarding]) {
      expect(allows(roleOf(machine), "lambda:InvokeFunction", logicalId(stack.workflow.task))).toBe(true);
      const invokes = statementsOf(roleOf(machine)).filter((st) =>
        [st["Action"]].flat().includes("lambda:InvokeFunction"),
      );
      expect(JSON.stringify(invokes)).not.toContain(logicalId(stack.workflow.watchdog));
    }
  });
});

describe("REST API", () => {
  it("has a cached TOKEN authorizer on the Authorization header, cached at most 60 s (revocation)", () => {
    template.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      Type: "TOKEN",
      IdentitySource: "method.request.header.Authorization",
      AuthorizerResultTtlInSeconds: 60,
    });
    for (const [id, a] of ofType("AWS::ApiGateway::Authorizer")) {
      expect(a.Properties["AuthorizerResultTtlInSeconds"] as number, id).toBeLessThanOrEqual(60);
    }
  });

  it("serves /health, the console and the consent callback without auth, and /v1/{proxy+} through the authorizer", () => {
    const paths = new Map(
      ofType("AWS::ApiGateway::Resource").map(([id, r]) => [id, r.Properties["PathPart"] as string]),
    );
    const methods = ofType("AWS::ApiGateway::Method").map(([, m]) => ({
      path: paths.get((m.Properties["ResourceId"] as { Ref: string }).Ref),
      method: m.Properties["HttpMethod"],
      auth: m.Properties["AuthorizationType"],
      authorizer: m.Properties["AuthorizerId"],
    }));
    expect(methods).toHaveLength(5);
    expect(methods).toContainEqual({ path: "health", method: "GET", auth: "NONE", authorizer: undefined });
    // Where Entra sends a customer's admin back after consent: a browser, no key (signed state).
    expect(methods).toContainEqual({ path: "callback", method: "GET", auth: "NONE", authorizer: undefined });
    // The console's static files (functions/console): GET only, no key.
    expect(methods).toContainEqual({ path: "console", method: "GET", auth: "NONE", authorizer: undefined });
    expect(methods).toContainEqual({ path: "{proxy+}", method: "GET", auth: "NONE", authorizer: undefined });
    expect(methods).toContainEqual({
      path: "{proxy+}",
      method: "ANY",
      auth: "CUSTOM",
      authorizer: { Ref: expect.any(String) },
    });
  });

  it("stage prod: access logs, X-Ray, throttling, no data trace", () => {
    template.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "prod",
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          ThrottlingRateLimit: 1000,
          ThrottlingBurstLimit: 2000,
          DataTraceEnabled: false,
          LoggingLevel: "ERROR",
        }),
        // Anonymous traffic: the health route has a small limit of its own.
        Match.objectLike({
          HttpMethod: "GET",
          ResourcePath: "/~1health",
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        }),
      ]),
    });
  });

  it("answers its own errors (401, 403, 429, ...) as problem+json", () => {
    const responses = ofType("AWS::ApiGateway::GatewayResponse").map(([, r]) => r.Properties);
    expect(responses.map((r) => r["ResponseType"]).sort()).toEqual(
      [
        "ACCESS_DENIED",
        "BAD_REQUEST_PARAMETERS",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "REQUEST_TOO_LARGE",
        "THROTTLED",
        "UNAUTHORIZED",
      ].sort(),
    );
    for (const r of responses) {
      expect(r["ResponseParameters"]).toEqual({
        "gatewayresponse.header.Content-Type": "'application/problem+json'",
        ...(r["ResponseType"] === "THROTTLED" && { "gatewayresponse.header.Retry-After": "'1'" }),
        ...(r["ResponseType"] === "UNAUTHORIZED" && {
          "gatewayresponse.header.WWW-Authenticate": `'Bearer realm="journal-onboarding"'`,
        }),
      });
    }
    const unauthorized = responses.find((r) => r["ResponseType"] === "UNAUTHORIZED")!;
    expect(unauthorized["StatusCode"]).toBe("401");
    const body = (unauthorized["ResponseTemplates"] as Record<string, string>)["application/json"]!;
    // A refused key is told what the API function's own 401 tells (the authorizer's message is
    // only "Unauthorized").
    expect(JSON.parse(body)).toEqual({
      type: "about:blank",
      code: "UNAUTHORIZED",
      title: "Unauthorized",
      status: 401,
      detail: "A valid API key is required: Authorization: Bearer <key>.",
    });
    // Each carries the error catalogue's code, as the API function's problems do (but DEFAULT_4XX).
    const codes = Object.fromEntries(
      responses.map((r) => [
        r["ResponseType"],
        JSON.parse(
          (r["ResponseTemplates"] as Record<string, string>)["application/json"]!.replace(
            "$context.error.messageString",
            '"m"',
          ),
        ).code,
      ]),
    );
    expect(codes).toEqual({
      UNAUTHORIZED: "UNAUTHORIZED",
      ACCESS_DENIED: "FORBIDDEN",
      MISSING_AUTHENTICATION_TOKEN: "NOT_FOUND",
      BAD_REQUEST_PARAMETERS: "VALIDATION_FAILED",
      THROTTLED: "RATE_LIMITED",
      REQUEST_TOO_LARGE: "PAYLOAD_TOO_LARGE",
      DEFAULT_4XX: undefined,
      DEFAULT_5XX: "INTERNAL_ERROR",
    });
    for (const code of Object.values(codes)) if (code) expect(ERROR_CATALOGUE).toHaveProperty(String(code));
    const forbidden = responses.find((r) => r["ResponseType"] === "ACCESS_DENIED")!;
    const denied = (forbidden["ResponseTemplates"] as Record<string, string>)["application/json"]!;
    // The others are JSON once API Gateway fills in the (quoted) message.
    expect(JSON.parse(denied.replace("$context.error.messageString", '"Denied"'))).toMatchObject({
      detail: "Denied",
    });
  });
});

describe("per-partner limits and concurrency", () => {
  it("usage plans keyed by the authorizer: one plan throttled per partner key, one for ops", () => {
    template.hasResourceProperties("AWS::ApiGateway::RestApi", { ApiKeySourceType: "AUTHORIZER" });
    const v1 = ofType("AWS::ApiGateway::Method").find(([, m]) => m.Properties["HttpMethod"] === "ANY")!;
    expect(v1[1].Properties["ApiKeyRequired"]).toBe(true);
    const plans = ofType("AWS::ApiGateway::UsagePlan").map(([, p]) => p.Properties);
    expect(plans).toHaveLength(2);
    const partners = plans.find((p) => String(p["UsagePlanName"]).endsWith("-partners"))!;
    expect(partners["Throttle"]).toEqual({ RateLimit: 25, BurstLimit: 50 });
    const ops = plans.find((p) => String(p["UsagePlanName"]).endsWith("-ops"))!;
    expect(ops["Throttle"]).toEqual({ RateLimit: 50, BurstLimit: 100 });
    // The ops key and the shared key of partners created before per-partner limits.
    const keys = ofType("AWS::ApiGateway::ApiKey").map(([, k]) => k.Properties["Value"]);
    expect(keys.sort()).toEqual(
      [
        usageKeyValue(`${stack.api.usageKeyPrefix}ops`),
        usageKeyValue(`${stack.api.usageKeyPrefix}shared`),
      ].sort(),
    );
    expect(ofType("AWS::ApiGateway::UsagePlanKey")).toHaveLength(2);
    // The authorizer names the key; the API function adds one per new partner.
    expect(envOf(stack.api.authorizer)["USAGE_KEY_PREFIX"]).toBe(stack.api.usageKeyPrefix);
    expect(envOf(stack.api.handler)).toMatchObject({
      USAGE_KEY_PREFIX: stack.api.usageKeyPrefix,
      USAGE_PLAN_NAME: partners["UsagePlanName"],
    });
    const handlerRole = logicalId(stack.api.handler.executionRole);
    const apigw = statementsOf(handlerRole).filter((st) =>
      [st["Action"]].flat().some((a) => String(a).startsWith("apigateway:")),
    );
    expect(JSON.stringify(apigw)).toContain("::/apikeys");
    expect(JSON.stringify(apigw)).toContain("::/usageplans/*/keys");
    expect(JSON.stringify(apigw)).not.toContain("DELETE");
  });

  it("reserves concurrency for the API, the authorizer and the dispatcher, and caps dispatch", () => {
    const reserved = (fn: { node: { defaultChild?: unknown } }) =>
      resources[logicalId(fn)]!.Properties["ReservedConcurrentExecutions"];
    expect(reserved(stack.api.handler)).toBe(100);
    expect(reserved(stack.api.authorizer)).toBe(50);
    expect(reserved(stack.webhooks.dispatcher)).toBe(20);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: logicalId(stack.webhooks.dispatcher) },
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    const none = synth({ reservedConcurrency: null }).template.toJSON().Resources as Record<string, Resource>;
    expect(
      Object.values(none).filter((r) => r.Properties?.["ReservedConcurrentExecutions"] !== undefined),
    ).toEqual([]);
  });

  it("refuses an authorizer cache longer than 60 s", async () => {
    const { OnboardingApi } = await import("../infra/aws/onboarding-api.ts");
    const { Duration } = await import("aws-cdk-lib");
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const s = new JournalOnboardingStack(app, "Other");
    expect(
      () =>
        new OnboardingApi(s, "Api2", {
          table: s.table,
          onboarding: s.workflow.onboarding,
          offboarding: s.workflow.offboarding,
          webhookQueue: s.webhooks.queue,
          authorizerCacheTtl: Duration.minutes(5),
        }),
    ).toThrow(/at most 60 seconds/);
  });
});

describe("webhook delivery", () => {
  it("is a FIFO queue without content-based dedup, redriving to a FIFO dead-letter queue", () => {
    const dlq = logicalId(stack.webhooks.deadLetterQueue);
    expect(resources[logicalId(stack.webhooks.queue)]!.Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: false,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [dlq, "Arn"] }, maxReceiveCount: 100 },
    });
    expect(resources[dlq]!.Properties).toMatchObject({ FifoQueue: true });
  });

  it("refuses non-TLS access to every queue", () => {
    const queues = ofType("AWS::SQS::Queue").map(([id]) => id);
    expect(queues).toHaveLength(4);
    const policies = ofType("AWS::SQS::QueuePolicy").map(([, p]) => p.Properties);
    for (const queue of queues) {
      const policy = policies.find((p) => JSON.stringify(p["Queues"]).includes(`"${queue}"`));
      expect(policy?.["PolicyDocument"], queue).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      });
    }
  });

  it("feeds inserted event items and tenant items (outbox flush) to the forwarder, with a failure destination", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: logicalId(stack.webhooks.streamForwarder) },
      EventSourceArn: { "Fn::GetAtt": [logicalId(stack.table.table), "StreamArn"] },
      StartingPosition: "TRIM_HORIZON",
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [logicalId(stack.webhooks.streamFailureQueue), "Arn"] } },
      },
    });
    const mapping = ofType("AWS::Lambda::EventSourceMapping").find(
      ([, m]) =>
        (m.Properties["FunctionName"] as { Ref: string }).Ref === logicalId(stack.webhooks.streamForwarder),
    )!;
    const filters = (mapping[1].Properties["FilterCriteria"] as { Filters: { Pattern: string }[] }).Filters;
    expect(filters.map((f) => JSON.parse(f.Pattern))).toEqual([
      { eventName: ["INSERT"], dynamodb: { Keys: { sk: { S: [{ prefix: "EVENT#" }] } } } },
      { dynamodb: { Keys: { sk: { S: ["TENANT"] } } } },
    ]);
  });

  it("filters on the prefix the store writes event items with", async () => {
    const { EVENT_SK_PREFIX, eventSortKey } = await import("../functions/adapters/dynamodb/keys.ts");
    expect(eventSortKey(1).startsWith("EVENT#")).toBe(true);
    expect(EVENT_SK_PREFIX).toBe("EVENT#");
  });

  it("the dispatcher consumes the FIFO queue and reports per-message failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: logicalId(stack.webhooks.dispatcher) },
      EventSourceArn: { "Fn::GetAtt": [logicalId(stack.webhooks.queue), "Arn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });
});

describe("monitoring", () => {
  const alarms = () => ofType("AWS::CloudWatch::Alarm").map(([, a]) => a.Properties);
  const metricsOf = (alarm: Record<string, unknown>) =>
    JSON.stringify(alarm["Metrics"] ?? [alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]]);

  it("alarms on failed executions of each workflow", () => {
    for (const machine of [stack.workflow.onboarding, stack.workflow.offboarding]) {
      expect(
        alarms().some(
          (a) => metricsOf(a).includes("ExecutionsFailed") && metricsOf(a).includes(logicalId(machine)),
        ),
      ).toBe(true);
    }
  });

  it("alarms on the first message in any dead-letter queue, the watchdog's EventBridge target's included", () => {
    for (const queue of [
      stack.webhooks.deadLetterQueue,
      stack.webhooks.streamFailureQueue,
      stack.workflow.watchdogDeadLetterQueue,
    ]) {
      const alarm = alarms().find(
        (a) =>
          a["MetricName"] === "ApproximateNumberOfMessagesVisible" && metricsOf(a).includes(logicalId(queue)),
      );
      expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    }
  });

  it("alarms on the API's 5xx rate, Lambda throttles of every function and Microsoft 365 throttling", async () => {
    expect(alarms().some((a) => metricsOf(a).includes("5XXError"))).toBe(true);
    const throttled = alarms().filter(
      (a) => a["MetricName"] === "Throttles" && a["Namespace"] === "AWS/Lambda",
    );
    expect(throttled).toHaveLength(ofType("AWS::Lambda::Function").length);
    // The name the task code emits (functions/commons/observability.ts).
    const { METRIC, METRICS_NAMESPACE, SERVICE_NAME } = await import("../functions/commons/observability.ts");
    const m365 = alarms().find((a) => a["MetricName"] === METRIC.m365Throttled);
    expect(m365).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Dimensions: [{ Name: "service", Value: SERVICE_NAME }],
    });
  });

  it("the watchdog's EventBridge target keeps undeliverable events in its dead-letter queue", () => {
    const [, rule] = ofType("AWS::Events::Rule").find(([, r]) =>
      JSON.stringify(r.Properties["EventPattern"] ?? {}).includes("Step Functions Execution Status Change"),
    )!;
    const targets = rule.Properties["Targets"] as { DeadLetterConfig?: { Arn: unknown } }[];
    expect(targets).toHaveLength(1);
    expect(JSON.stringify(targets[0]!.DeadLetterConfig)).toContain(
      logicalId(stack.workflow.watchdogDeadLetterQueue),
    );
  });

  it("a watchdog that fails on an event sends it, after Lambda's two retries, to the same dead-letter queue", () => {
    const queue = logicalId(stack.workflow.watchdogDeadLetterQueue);
    const configs = ofType("AWS::Lambda::EventInvokeConfig").filter(
      ([, c]) =>
        JSON.stringify(c.Properties["FunctionName"]) ===
        JSON.stringify({ Ref: logicalId(stack.workflow.watchdog) }),
    );
    expect(configs).toHaveLength(1);
    const [, config] = configs[0]!;
    expect(config.Properties["MaximumRetryAttempts"]).toBe(2);
    expect(config.Properties["DestinationConfig"]).toEqual({
      OnFailure: { Destination: { "Fn::GetAtt": [queue, "Arn"] } },
    });
    // Lambda sends to the destination with the function's own role.
    const sends = ofType("AWS::IAM::Policy").filter(
      ([, p]) =>
        JSON.stringify(p.Properties["Roles"]).includes(logicalId(stack.workflow.watchdog.executionRole)) &&
        JSON.stringify(p.Properties["PolicyDocument"]).includes("sqs:SendMessage") &&
        JSON.stringify(p.Properties["PolicyDocument"]).includes(queue),
    );
    expect(sends).toHaveLength(1);
  });

  it("alarms on DynamoDB throttling (every operation), the oldest webhook message and authorizer errors", () => {
    const dynamo = alarms().find(
      (a) =>
        metricsOf(a).includes("ThrottledRequests") && metricsOf(a).includes(logicalId(stack.table.table)),
    );
    expect(dynamo).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    for (const operation of ["GetItem", "PutItem", "UpdateItem", "Query", "BatchWriteItem"]) {
      expect(metricsOf(dynamo!)).toContain(operation);
    }
    const age = alarms().find(
      (a) =>
        a["MetricName"] === "ApproximateAgeOfOldestMessage" &&
        metricsOf(a).includes(logicalId(stack.webhooks.queue)),
    );
    expect(age).toMatchObject({ Threshold: 900, EvaluationPeriods: 2 });
    const authorizer = alarms().find(
      (a) =>
        a["MetricName"] === "Errors" &&
        a["Namespace"] === "AWS/Lambda" &&
        metricsOf(a).includes(logicalId(stack.api.authorizer)),
    );
    expect(authorizer).toMatchObject({ Threshold: 1 });
  });

  it("alarms have no actions without a topic, and all notify the topic given an email", () => {
    expect(alarms().every((a) => a["AlarmActions"] === undefined)).toBe(true);
    const withEmail = synth({ alarmEmail: "ops@example.test" });
    withEmail.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.test",
    });
    const topic = withEmail.stack.getLogicalId(
      withEmail.stack.monitoring.alarmTopic!.node.defaultChild as never,
    );
    const withActions = Object.values(
      withEmail.template.toJSON().Resources as Record<string, Resource>,
    ).filter((r) => r.Type === "AWS::CloudWatch::Alarm");
    expect(withActions.length).toBe(alarms().length);
    for (const alarm of withActions) expect(alarm.Properties["AlarmActions"]).toEqual([{ Ref: topic }]);
    withEmail.template.hasOutput("AlarmTopicArn", {});
    // cdk-nag findings of the topic are acknowledged too.
    expect(new nag.AwsSolutionsChecks().validateScope(withEmail.stack).violations).toEqual([]);
  });

  it("has a dashboard", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });
});

describe("stack", () => {
  it("is environment-agnostic and outputs what the operator needs", () => {
    expect(Token.isUnresolved(stack.account) && Token.isUnresolved(stack.region)).toBe(true);
    expect(stack.environment).toBe("aws://unknown-account/unknown-region");
    for (const output of ["ApiUrl", "M365SecretArn", "OpsApiKeySecretArn", "TableName", "DashboardName"]) {
      template.hasOutput(output, {});
    }
  });

  it("creates the M365 secret with a placeholder client id and never a value in the template", () => {
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: JSON.stringify({ clientId: "REPLACE_WITH_APPLICATION_CLIENT_ID" }),
        GenerateStringKey: "clientSecret",
      }),
    });
    for (const [, secret] of ofType("AWS::SecretsManager::Secret")) {
      expect(secret.Properties["SecretString"]).toBeUndefined();
    }
  });

  it("has no CDK errors or warnings", () => {
    expect(Annotations.fromStack(stack).findError("*", Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning("*", Match.anyValue())).toEqual([]);
  });
});

describe("cdk-nag AwsSolutions", () => {
  it("finds nothing unacknowledged", () => {
    const report = new nag.AwsSolutionsChecks().validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
    );
    expect(findings).toEqual([]);
  });

  it("gives a reason for every acknowledgement", () => {
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === "aws:cdk:acknowledged-rules"))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/AwsSolutions-/);
      expect(reason.length, id).toBeGreaterThan(30);
    }
  });

  it("does report what is not acknowledged (the check is live)", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const bare = new Stack(app, "Bare");
    new Queue(bare, "Plain");
    const rules = new nag.AwsSolutionsChecks().validateScope(bare).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(["AwsSolutions-SQS3", "AwsSolutions-SQS4"]));
  });
});
