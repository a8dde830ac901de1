import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import {
  AccessLogFormat,
  ApiKey,
  ApiKeySourceType,
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
  TokenAuthorizer,
  type UsagePlan,
} from "aws-cdk-lib/aws-apigateway";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { CfnWebACLAssociation } from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";
import { usageKeyValue } from "../../functions/api/usage-key.ts";
import { CONSOLE_VENDOR_FILES } from "../../functions/console/assets.ts";
import { grantDescribeExecutions } from "./execution-access.ts";
import { addGatewayProblems } from "./gateway-problems.ts";
import { LambdaFunction } from "./lambda-function.ts";
import type { M365Credentials } from "./m365-credentials.ts";
import { acknowledgeWildcard } from "./nag.ts";
import { PublicRateLimit, type PublicRateLimitProps } from "./public-rate-limit.ts";
import { grantTableItems, TABLE_ACCESS } from "./table-access.ts";
import type { TenantTable } from "./tenant-table.ts";

export interface OnboardingApiProps {
  readonly table: TenantTable;
  readonly onboarding: StateMachine;
  readonly offboarding: StateMachine;
  /** The drift check state machine (`POST .../drift-checks`). @default - drift checks answer 503 */
  readonly driftCheck?: StateMachine;
  /** Webhook delivery queue: the API enqueues replays of deliveries. */
  readonly webhookQueue: IQueue;
  /**
   * Stage-wide steady request rate (requests per second), all callers together: a safety net
   * for the account, sized to what the API function's reserved concurrency serves, never the
   * limit a partner meets first (that is its usage plan). @default 1000
   */
  readonly throttlingRateLimit?: number;
  /** Stage-wide burst. @default 2000 */
  readonly throttlingBurstLimit?: number;
  /** The ops key's own limit (its usage plan). @default 50 requests/s, burst 100 */
  readonly opsRateLimit?: { rateLimit: number; burstLimit: number };
  /**
   * How long API Gateway caches the authorizer's answer per API key. A revoked partner key
   * keeps working for at most this long; at most 60 seconds.
   * @default Duration.seconds(60)
   */
  readonly authorizerCacheTtl?: Duration;
  /**
   * Each partner's own limit (an API Gateway usage plan whose throttle applies per API key;
   * each partner has its own key, named by the authorizer). @default 25 requests/s, burst 50
   */
  readonly partnerRateLimit?: { rateLimit: number; burstLimit: number };
  /** `GET /health` (no key): its own method throttle, apart from partners. @default 10/s, burst 20 */
  readonly healthRateLimit?: { rateLimit: number; burstLimit: number };
  /**
   * Reserved concurrency of the API function and the authorizer: each keeps capacity no other
   * function can take, and cannot take more than this from the others. `null` for none
   * (accounts with a low concurrency quota). @default { api: 100, authorizer: 50 }
   */
  readonly reservedConcurrency?: { api: number; authorizer: number } | null;
  /**
   * A regional WAFv2 web ACL to attach to the stage instead of the stack's own (which limits the
   * routes without a key per client address): it should do the same. @default - the stack's own
   */
  readonly webAclArn?: string;
  /** The stack's own web ACL's per-address limit (without `webAclArn`). @default 300 per 5 minutes */
  readonly publicRateLimit?: PublicRateLimitProps;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * The API function's consent-link settings: `M365_CLOUD` / `M365_AUTHORITY_HOST`,
   * `M365_CLIENT_ID` (the app id, not a secret) and `M365_CONSENT_REDIRECT_URI`.
   */
  readonly consent?: Record<string, string>;
  /**
   * The app's credential (`M365_SECRET_ARN`): the consent callback redeems the customer admin's
   * sign-in with it. Without it the callback binds nothing.
   */
  readonly credentials?: M365Credentials;
  /**
   * `GET /v1/consent/callback` (no key, a customer admin's browser): its own method throttle,
   * shared by every caller. @default CONSENT_CALLBACK_RATE_LIMIT
   */
  readonly consentCallbackRateLimit?: { rateLimit: number; burstLimit: number };
}

/** Stage name. The API's paths carry the version (`/v1/...`), so the stage does not. */
export const API_STAGE = "prod";

/**
 * The Authorization header API Gateway lets through to the authorizer: the scheme in any case
 * (RFC 9110: auth schemes are case-insensitive) and the key as the API itself reads it
 * (`bearerKey` in functions/api/auth.ts). Written without flags: API Gateway's (Java) regex and
 * JavaScript's read it the same way.
 */
export const AUTHORIZATION_PATTERN = "^[Bb][Ee][Aa][Rr][Ee][Rr] +[\\x21-\\x7e]{1,512} *$";

/**
 * The stage's limit, all callers together: an account-level safety net (about what the API
 * function's 100 reserved instances serve at 100 ms a request), well above any one partner's
 * usage plan, so that each partner's plan is the limit that binds.
 */
export const STAGE_RATE_LIMIT = { rateLimit: 1000, burstLimit: 2000 } as const;

/**
 * The consent callback's method throttle: one bucket for every customer's browser, so it is sized
 * so that no single address can empty it and the per-address limit (WAF's `PublicRoutesPerAddress`,
 * 300 requests per 5 minutes by default) is the one a flooding address meets. The burst holds
 * twice what one address may send in a window, all at once; the rate is 50 times one address's
 * steady 1/s. As a safety net against a flood from many addresses it stays a twentieth of the
 * stage's limit (at about 0.5 s a callback that redeems a sign-in, at most 25 of the API
 * function's 100 reserved instances).
 */
export const CONSENT_CALLBACK_RATE_LIMIT = { rateLimit: 50, burstLimit: 600 } as const;

/** A revoked key must stop working within this on every path. */
export const MAX_AUTHORIZER_CACHE_TTL = Duration.seconds(60);

/**
 * The REST API: `GET /health` and the ops console (`GET /console`, `GET /console/{proxy+}`,
 * static files) without auth, and `ANY /v1/{proxy+}` behind a cached Lambda
 * TOKEN authorizer (the `Authorization: Bearer <api key>` header), both served by one API
 * function that routes the API's paths. Stage `prod` with access logs, X-Ray and throttling.
 */
export class OnboardingApi extends Construct {
  readonly api: RestApi;
  readonly handler: LambdaFunction;
  readonly authorizer: LambdaFunction;
  /** The ops API key (generated); the authorizer reads it at cold start. */
  readonly opsApiKey: Secret;
  /** Signs cursors and consent states (generated; survives an ops key rotation). */
  readonly signingSecret: Secret;
  /** Base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod/`. */
  readonly url: string;
  /** Partners' usage plan: one API Gateway API key per partner, throttled per key. */
  readonly partnerUsagePlan: UsagePlan;
  /** Ops' usage plan (the ops key). */
  readonly opsUsagePlan: UsagePlan;
  /** Prefix of the API Gateway API key values the authorizer names (`<prefix><partnerId>`, `<prefix>ops`). */
  readonly usageKeyPrefix: string;

  constructor(scope: Construct, id: string, props: OnboardingApiProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    ({ opsApiKey: this.opsApiKey, signingSecret: this.signingSecret } = this.secrets());
    // API Gateway API key names and values are unique per account and region: the stack name in
    // the name (and so in the value, its digest) keeps two stacks apart. No secrets (callers
    // never send them).
    this.usageKeyPrefix = `journal-onboarding-${Stack.of(this).stackName}-`;
    this.authorizer = this.authorizerFunction(props, logRetention);
    this.handler = this.apiFunction(props, logRetention);
    this.grantWorkflows(props);
    this.api = this.restApi(props, logRetention);
    this.url = this.api.url;
    addGatewayProblems(this.api);
    const integration = new LambdaIntegration(this.handler, { allowTestInvoke: false });
    this.publicRoutes(integration);
    this.keyedRoutes(props, integration);
    ({ partners: this.partnerUsagePlan, ops: this.opsUsagePlan } = this.usagePlans(props));
    // The stack's own web ACL (a per-address limit on the routes without a key), or one's own.
    new CfnWebACLAssociation(this, "WebAcl", {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn:
        props.webAclArn ?? new PublicRateLimit(this, "PublicRateLimit", props.publicRateLimit).webAclArn,
    });
  }

  /** The ops key and the signing secret, both generated. */
  private secrets(): { opsApiKey: Secret; signingSecret: Secret } {
    const opsApiKey = new Secret(this, "OpsApiKey", {
      description: "Ops API key (Authorization: Bearer <value>). Rotate by putting a new value.",
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    Validations.of(opsApiKey).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The ops key is a bearer key handed to people, not a database credential: it is rotated by putting a new value (docs/deploy.md); the authorizer and the API re-read it within 60 seconds.",
    });

    // Signs pagination cursors and consent links' state: its own secret, so that an ops key
    // rotation breaks neither (every container reads the same value).
    const signingSecret = new Secret(this, "SigningSecret", {
      description:
        "Signs pagination cursors and the state of consent links (not a key anyone sends). Changing it invalidates cursors and consent links issued before.",
      generateSecretString: { excludePunctuation: true, passwordLength: 64 },
    });
    Validations.of(signingSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "An HMAC key of the API's own (cursors, consent states), never handed out: rotating it would only invalidate the cursors and consent links partners hold.",
    });

    return { opsApiKey, signingSecret };
  }

  /** The TOKEN authorizer's function: it reads API key items only, and the ops key. */
  private authorizerFunction(props: OnboardingApiProps, logRetention: RetentionDays): LambdaFunction {
    const authorizer = new LambdaFunction(this, "Authorizer", {
      entry: "functions/api/authorizer.ts",
      description: "API key authorizer: partner keys (hashed, in the table) and the ops key",
      timeout: Duration.seconds(10),
      logRetention,
    });
    // It reads API key items only (GetItem on `APIKEY#<hash>`): not tenants, not webhook secrets.
    grantTableItems(authorizer, props.table.table, TABLE_ACCESS.authorizer);
    authorizer.bindSecret(this.opsApiKey, "OPS_API_KEY_SECRET_ARN");
    authorizer.addEnvironment("USAGE_KEY_PREFIX", this.usageKeyPrefix);

    return authorizer;
  }

  /** The API function: the API's routes, the console's files, the workflows it starts. */
  private apiFunction(props: OnboardingApiProps, logRetention: RetentionDays): LambdaFunction {
    const handler = new LambdaFunction(this, "Handler", {
      entry: "functions/api/handler.ts",
      description: "REST API v1: partners, tenants, webhooks",
      // API Gateway gives up after 29 s.
      timeout: Duration.seconds(25),
      logRetention,
      // The ops console's page, script and styles, served at /console (functions/console/assets.ts).
      bundleFolders: [
        { from: "functions/console/static", to: "static" },
        // The console's chart library, vendored from node_modules at build time.
        ...CONSOLE_VENDOR_FILES.map(({ module, file }) => ({
          from: `node_modules/${module}`,
          to: `static/${file}`,
        })),
      ],
      environment: {
        STATE_MACHINE_ARN: props.onboarding.stateMachineArn,
        OFFBOARDING_STATE_MACHINE_ARN: props.offboarding.stateMachineArn,
        ...(props.driftCheck ? { DRIFT_STATE_MACHINE_ARN: props.driftCheck.stateMachineArn } : {}),
        WEBHOOK_QUEUE_URL: props.webhookQueue.queueUrl,
        ...props.consent,
      },
    });
    grantTableItems(handler, props.table.table, TABLE_ACCESS.api);
    handler.bindSecret(this.opsApiKey, "OPS_API_KEY_SECRET_ARN");
    handler.bindSecret(this.signingSecret, "SIGNING_SECRET_ARN");
    props.credentials?.bind(handler);
    const reserved =
      props.reservedConcurrency === undefined ? { api: 100, authorizer: 50 } : props.reservedConcurrency;
    if (reserved) {
      (handler.node.defaultChild as CfnFunction).reservedConcurrentExecutions = reserved.api;
      (this.authorizer.node.defaultChild as CfnFunction).reservedConcurrentExecutions = reserved.authorizer;
    }
    return handler;
  }

  /** The webhook queue (replays) and the workflows: started, and described (is a run alive?). */
  private grantWorkflows(props: OnboardingApiProps): void {
    props.webhookQueue.grantSendMessages(this.handler);
    props.driftCheck?.grantStartExecution(this.handler);
    for (const machine of [props.onboarding, props.offboarding]) {
      machine.grantStartExecution(this.handler);
      grantDescribeExecutions(this.handler, machine);
    }
  }

  /** The REST API and its `prod` stage: access logs, X-Ray, the stage's and anonymous routes' throttles. */
  private restApi(props: OnboardingApiProps, logRetention: RetentionDays): RestApi {
    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const api = new RestApi(this, "Api", {
      restApiName: `${Stack.of(this).stackName}-api`,
      description: "Journal onboarding REST API",
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: true,
      // Usage plans are keyed by the authorizer's `usageIdentifierKey`: callers send no x-api-key.
      apiKeySourceType: ApiKeySourceType.AUTHORIZER,
      // Every body reaches the function as its bytes (base64): a body of a text media type would
      // be decoded as UTF-8 with U+FFFD for invalid bytes, which the API must refuse (400).
      binaryMediaTypes: ["*/*"],
      deployOptions: {
        stageName: API_STAGE,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: true,
        metricsEnabled: true,
        // ERROR only, and no data trace: request bodies and headers carry API keys and secrets.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        // The account's safety net; each caller's own usage plan is the limit it meets first.
        throttlingRateLimit: props.throttlingRateLimit ?? STAGE_RATE_LIMIT.rateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit ?? STAGE_RATE_LIMIT.burstLimit,
        // Anonymous traffic: the health route has its own, small limit.
        methodOptions: {
          "/health/GET": {
            throttlingRateLimit: props.healthRateLimit?.rateLimit ?? 10,
            throttlingBurstLimit: props.healthRateLimit?.burstLimit ?? 20,
          },
          // Anonymous too: a customer admin's browser back from Entra's consent page.
          "/v1/consent/callback/GET": {
            throttlingRateLimit:
              props.consentCallbackRateLimit?.rateLimit ?? CONSENT_CALLBACK_RATE_LIMIT.rateLimit,
            throttlingBurstLimit:
              props.consentCallbackRateLimit?.burstLimit ??
              Math.max(CONSENT_CALLBACK_RATE_LIMIT.burstLimit, 2 * (props.publicRateLimit?.limit ?? 300)),
          },
        },
      },
    });
    Validations.of(api).acknowledge(
      {
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        reason:
          "API Gateway's account-level CloudWatch role (needed for access and execution logs) uses the AWS-managed policy made for it.",
      },
      {
        id: "AwsSolutions-APIG2",
        reason:
          "Bodies are validated by the API function (zod), which answers problem+json with per-field errors (docs/api.md); the gateway validates the required Authorization header.",
      },
    );

    return api;
  }

  /** `GET /health` and the ops console's static files: no key. */
  private publicRoutes(integration: LambdaIntegration): void {
    const health = this.api.root.addResource("health").addMethod("GET", integration, {
      authorizationType: AuthorizationType.NONE,
    });
    Validations.of(health).acknowledge(
      {
        id: "AwsSolutions-APIG4",
        reason:
          "GET /health is public by contract (docs/api.md): load balancers and uptime checks call it without a key.",
      },
      { id: "AwsSolutions-COG4", reason: "GET /health is public by contract (docs/api.md)." },
    );

    // The ops console: static files without data (the page asks for the key and calls /v1).
    const consoleResource = this.api.root.addResource("console");
    for (const resource of [consoleResource, consoleResource.addResource("{proxy+}")]) {
      const method = resource.addMethod("GET", integration, { authorizationType: AuthorizationType.NONE });
      Validations.of(method).acknowledge(
        {
          id: "AwsSolutions-APIG4",
          reason:
            "The console's page, script and styles carry no data: a browser must load them before the key is typed in; every data call goes to /v1 behind the authorizer.",
        },
        {
          id: "AwsSolutions-COG4",
          reason: "The console's static files are public; its data calls use API keys.",
        },
      );
    }
  }

  /** `ANY /v1/{proxy+}` behind the cached TOKEN authorizer, and the consent callback without a key. */
  private keyedRoutes(props: OnboardingApiProps, integration: LambdaIntegration): void {
    const authorizerCacheTtl = props.authorizerCacheTtl ?? MAX_AUTHORIZER_CACHE_TTL;
    if (authorizerCacheTtl.toSeconds() > MAX_AUTHORIZER_CACHE_TTL.toSeconds()) {
      throw new Error("authorizerCacheTtl must be at most 60 seconds: a revoked key must stop within that");
    }
    const tokenAuthorizer = new TokenAuthorizer(this, "ApiKeyAuthorizer", {
      handler: this.authorizer,
      resultsCacheTtl: authorizerCacheTtl,
      validationRegex: AUTHORIZATION_PATTERN,
    });
    // The API function validates bodies itself (zod, problem+json with field errors); the
    // gateway only insists on the header the authorizer needs.
    const requireAuthHeader = this.api.addRequestValidator("RequireAuthorization", {
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    const v1Root = this.api.root.addResource("v1");
    // Where Entra's admin consent sends the customer's admin back: a browser without a key.
    // The signed `state` it carries is the credential (functions/domain/binding.ts).
    const consentCallback = v1Root
      .addResource("consent")
      .addResource("callback")
      .addMethod("GET", integration, { authorizationType: AuthorizationType.NONE });
    Validations.of(consentCallback).acknowledge(
      {
        id: "AwsSolutions-APIG4",
        reason:
          "GET /v1/consent/callback is public by contract (docs/api.md): Entra redirects the customer admin's browser there; it acts only on a state signed by the service.",
      },
      { id: "AwsSolutions-COG4", reason: "GET /v1/consent/callback is public by contract (docs/api.md)." },
    );
    const v1 = v1Root.addResource("{proxy+}").addMethod("ANY", integration, {
      authorizer: tokenAuthorizer,
      authorizationType: AuthorizationType.CUSTOM,
      requestParameters: { "method.request.header.Authorization": true },
      requestValidator: requireAuthHeader,
      // The usage plan of the key the authorizer names applies (per-partner throttling).
      apiKeyRequired: true,
    });
    Validations.of(v1).acknowledge({
      id: "AwsSolutions-COG4",
      reason:
        "Callers are partner portals and ops tools holding API keys (docs/api.md), not Cognito users: a Lambda TOKEN authorizer checks the key.",
    });
  }

  /** Each partner's and the ops key's usage plans, and the API function's right to add partners' keys. */
  private usagePlans(props: OnboardingApiProps): { partners: UsagePlan; ops: UsagePlan } {
    // Per-partner limits: one plan whose throttle applies to each API key in it; every partner
    // gets its own key when created (the API function: functions/api/usage-plans.ts). Partners
    // created before per-partner limits share the `shared` key until they are issued a new key.
    const stage = this.api.deploymentStage;
    const partnerPlanName = `${Stack.of(this).stackName}-partners`;
    const partners = this.api.addUsagePlan("PartnerUsagePlan", {
      name: partnerPlanName,
      description: "Per-partner request limit (applies to each partner's API key)",
      throttle: {
        rateLimit: props.partnerRateLimit?.rateLimit ?? 25,
        burstLimit: props.partnerRateLimit?.burstLimit ?? 50,
      },
      apiStages: [{ api: this.api, stage }],
    });
    const ops = this.api.addUsagePlan("OpsUsagePlan", {
      name: `${Stack.of(this).stackName}-ops`,
      description: "The ops key's limit",
      throttle: props.opsRateLimit ?? { rateLimit: 50, burstLimit: 100 },
      apiStages: [{ api: this.api, stage }],
    });
    const usageKey = (id: string, suffix: string, plan: UsagePlan) => {
      const key = new ApiKey(this, id, {
        apiKeyName: `${this.usageKeyPrefix}${suffix}`,
        // API Gateway takes 20-128 alphanumeric characters: a digest of the name (usage-key.ts).
        value: usageKeyValue(`${this.usageKeyPrefix}${suffix}`),
        description: `Usage plan key (${suffix}); not a credential: the authorizer names it`,
      });
      plan.addApiKey(key);
    };
    usageKey("OpsUsageKey", "ops", ops);
    usageKey("SharedUsageKey", "shared", partners);
    // By name, not id: the plan depends on the stage, which depends on the API function.
    this.handler.addEnvironment("USAGE_PLAN_NAME", partnerPlanName);
    this.handler.addEnvironment("USAGE_KEY_PREFIX", this.usageKeyPrefix);
    const { partition, region } = Stack.of(this);
    const apigatewayArn = (path: string) => `arn:${partition}:apigateway:${region}::${path}`;
    this.handler.addToRolePolicy(
      new PolicyStatement({
        actions: ["apigateway:POST", "apigateway:GET"],
        resources: [apigatewayArn("/apikeys")],
      }),
    );
    this.handler.addToRolePolicy(
      new PolicyStatement({ actions: ["apigateway:GET"], resources: [apigatewayArn("/usageplans")] }),
    );
    this.handler.addToRolePolicy(
      new PolicyStatement({ actions: ["apigateway:POST"], resources: [apigatewayArn("/usageplans/*/keys")] }),
    );
    acknowledgeWildcard(
      this.handler.executionRole,
      "arn:<AWS::Partition>:apigateway:<AWS::Region>::/usageplans/*/keys",
      "Adds a new partner's API key to the partners' usage plan, found by name: its id cannot be referenced (the plan depends on the stage, which depends on this function).",
    );

    return { partners, ops };
  }
}
