/**
 * The REST API as the template defines it: resources (their full paths), methods, the
 * authorizers, request validators, gateway responses, the stage (method settings) and usage
 * plans, with every intrinsic resolved to local values.
 */
import type { CfnResource } from "../contracts.ts";
import type { Assembly } from "../template.ts";

export interface MethodModel {
  logicalId: string;
  /** The resource's path as API Gateway names it (`/v1/{proxy+}`). */
  resourcePath: string;
  resourceId: string;
  /** `GET`, `POST`, ..., or `ANY`. */
  httpMethod: string;
  authorizationType: string;
  authorizerId?: string;
  apiKeyRequired: boolean;
  /** `method.request.header.Authorization` -> required. */
  requestParameters: Record<string, boolean>;
  requestValidatorId?: string;
  /** The Lambda function ARN of an AWS_PROXY integration. */
  functionArn?: string;
  integrationType: string;
}

export interface AuthorizerModel {
  id: string;
  type: string;
  functionArn: string;
  /** `method.request.header.Authorization`. */
  identitySource: string;
  validationExpression?: string;
  /** @default 300 (API Gateway's default when unset) */
  ttlSeconds: number;
}

export interface GatewayResponseModel {
  statusCode?: number;
  headers: Record<string, string>;
  templates: Record<string, string>;
}

export interface Throttle {
  rateLimit: number;
  burstLimit: number;
}

export interface UsagePlanModel {
  id: string;
  name: string;
  description?: string;
  throttle?: Throttle;
  apiStages: { apiId: string; stage: string; throttle: Record<string, Throttle> }[];
}

export interface ApiKeyModel {
  id: string;
  name: string;
  value: string;
  enabled: boolean;
  description?: string;
}

export interface RestApiModel {
  apiId: string;
  name: string;
  stageName: string;
  apiKeySource: "HEADER" | "AUTHORIZER";
  binaryMediaTypes: string[];
  /** Resource path -> methods by HTTP method. */
  resources: Map<string, Map<string, MethodModel>>;
  authorizers: Map<string, AuthorizerModel>;
  validators: Map<string, { validateRequestParameters: boolean; validateRequestBody: boolean }>;
  gatewayResponses: Map<string, GatewayResponseModel>;
  /** `/health/GET`, `/*\/*` (the stage default) -> throttle. */
  methodThrottles: Map<string, Throttle>;
  usagePlans: UsagePlanModel[];
  apiKeys: ApiKeyModel[];
  /** Usage plan id -> key ids, as the template's UsagePlanKeys give them. */
  usagePlanKeys: [string, string][];
}

const LAMBDA_URI = /:lambda:path\/2015-03-31\/functions\/(.+)\/invocations$/;

/** Reads the template's (single) REST API. */
interface ReadContext {
  assembly: Assembly;
  apiId: string;
  props(resource: CfnResource): Record<string, unknown>;
  /** Resources of a type that belong to this API. */
  ofThisApi(type: string): [string, CfnResource][];
}

/** Reads the template's (single) REST API. */
export function readRestApi(assembly: Assembly): RestApiModel {
  const [apiEntry] = assembly.ofType("AWS::ApiGateway::RestApi");
  if (!apiEntry) throw new Error("the template has no AWS::ApiGateway::RestApi");
  const [apiLogicalId, api] = apiEntry;
  const apiId = assembly.ref(apiLogicalId);
  const props = (r: CfnResource) => assembly.resolve(r.Properties ?? {}) as Record<string, unknown>;
  const ofThisApi = (type: string) =>
    assembly.ofType(type).filter(([, r]) => assembly.resolve(r.Properties?.["RestApiId"]) === apiId);
  const ctx: ReadContext = { assembly, apiId, props, ofThisApi };
  const stage = ofThisApi("AWS::ApiGateway::Stage")[0];
  if (!stage) throw new Error("the REST API has no AWS::ApiGateway::Stage");
  const stageProps = props(stage[1]);
  const apiProps = props(api);
  return {
    apiId,
    name: String(apiProps["Name"] ?? apiLogicalId),
    stageName: String(stageProps["StageName"]),
    apiKeySource: apiProps["ApiKeySourceType"] === "AUTHORIZER" ? "AUTHORIZER" : "HEADER",
    binaryMediaTypes: ((apiProps["BinaryMediaTypes"] ?? []) as string[]).map((t) => t.replace(/~1/g, "/")),
    resources: readMethods(ctx, apiLogicalId),
    authorizers: readAuthorizers(ctx),
    validators: readValidators(ctx),
    gatewayResponses: readGatewayResponses(ctx),
    methodThrottles: readMethodThrottles(stageProps),
    usagePlans: readUsagePlans(ctx),
    apiKeys: readApiKeys(ctx),
    usagePlanKeys: readUsagePlanKeys(ctx),
  };
}

function readMethods(ctx: ReadContext, apiLogicalId: string): Map<string, Map<string, MethodModel>> {
  const paths = resourcePaths(ctx.assembly, apiLogicalId, ctx.ofThisApi("AWS::ApiGateway::Resource"));
  const resources = new Map<string, Map<string, MethodModel>>();
  for (const [logicalId, resource] of ctx.ofThisApi("AWS::ApiGateway::Method")) {
    const p = ctx.props(resource);
    const resourceId = String(p["ResourceId"]);
    const resourcePath = paths.get(resourceId);
    if (!resourcePath) throw new Error(`${logicalId}: unknown resource ${resourceId}`);
    const integration = (p["Integration"] ?? {}) as Record<string, unknown>;
    const functionArn = LAMBDA_URI.exec(String(integration["Uri"] ?? ""))?.[1];
    const method: MethodModel = {
      logicalId,
      resourcePath,
      resourceId,
      httpMethod: String(p["HttpMethod"]).toUpperCase(),
      authorizationType: String(p["AuthorizationType"] ?? "NONE"),
      apiKeyRequired: p["ApiKeyRequired"] === true,
      requestParameters: (p["RequestParameters"] ?? {}) as Record<string, boolean>,
      integrationType: String(integration["Type"] ?? "MOCK"),
      ...(typeof p["AuthorizerId"] === "string" && { authorizerId: p["AuthorizerId"] }),
      ...(typeof p["RequestValidatorId"] === "string" && { requestValidatorId: p["RequestValidatorId"] }),
      ...(functionArn && { functionArn }),
    };
    const methods = resources.get(resourcePath) ?? new Map<string, MethodModel>();
    methods.set(method.httpMethod, method);
    resources.set(resourcePath, methods);
  }

  return resources;
}

function readAuthorizers(ctx: ReadContext): Map<string, AuthorizerModel> {
  const authorizers = new Map<string, AuthorizerModel>();
  for (const [logicalId, resource] of ctx.ofThisApi("AWS::ApiGateway::Authorizer")) {
    const p = ctx.props(resource);
    const functionArn = LAMBDA_URI.exec(String(p["AuthorizerUri"] ?? ""))?.[1];
    if (!functionArn) throw new Error(`${logicalId}: not a Lambda authorizer`);
    authorizers.set(ctx.assembly.ref(logicalId), {
      id: ctx.assembly.ref(logicalId),
      type: String(p["Type"]),
      functionArn,
      identitySource: String(p["IdentitySource"] ?? ""),
      ttlSeconds:
        p["AuthorizerResultTtlInSeconds"] === undefined ? 300 : Number(p["AuthorizerResultTtlInSeconds"]),
      ...(typeof p["IdentityValidationExpression"] === "string" && {
        validationExpression: p["IdentityValidationExpression"],
      }),
    });
  }

  return authorizers;
}

function readValidators(ctx: ReadContext): RestApiModel["validators"] {
  const validators = new Map(
    ctx.ofThisApi("AWS::ApiGateway::RequestValidator").map(([logicalId, resource]) => {
      const p = ctx.props(resource);
      return [
        ctx.assembly.ref(logicalId),
        {
          validateRequestParameters: p["ValidateRequestParameters"] === true,
          validateRequestBody: p["ValidateRequestBody"] === true,
        },
      ] as const;
    }),
  );

  return validators;
}

function readGatewayResponses(ctx: ReadContext): Map<string, GatewayResponseModel> {
  const gatewayResponses = new Map<string, GatewayResponseModel>();
  for (const [, resource] of ctx.ofThisApi("AWS::ApiGateway::GatewayResponse")) {
    const p = ctx.props(resource);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries((p["ResponseParameters"] ?? {}) as Record<string, string>)) {
      const name = /^gatewayresponse\.header\.(.+)$/.exec(key)?.[1];
      // Static values only ('...'); mappings of request values are not used by the template.
      if (name) headers[name] = value.replace(/^'(.*)'$/s, "$1");
    }
    gatewayResponses.set(String(p["ResponseType"]), {
      headers,
      templates: (p["ResponseTemplates"] ?? {}) as Record<string, string>,
      ...(p["StatusCode"] !== undefined && { statusCode: Number(p["StatusCode"]) }),
    });
  }

  return gatewayResponses;
}

function readMethodThrottles(stageProps: Record<string, unknown>): Map<string, Throttle> {
  const methodThrottles = new Map<string, Throttle>();
  for (const setting of (stageProps["MethodSettings"] ?? []) as Record<string, unknown>[]) {
    if (setting["ThrottlingRateLimit"] === undefined && setting["ThrottlingBurstLimit"] === undefined)
      continue;
    // `/~1health` is the resource path `/health` (JSON pointer escaping), `/*` every resource.
    const resourcePath = String(setting["ResourcePath"]).replace(/~1/g, "/").replace(/^\/\//, "/");
    methodThrottles.set(`${resourcePath}/${String(setting["HttpMethod"])}`, {
      rateLimit: Number(setting["ThrottlingRateLimit"] ?? 10_000),
      burstLimit: Number(setting["ThrottlingBurstLimit"] ?? 5_000),
    });
  }

  return methodThrottles;
}

function readUsagePlans(ctx: ReadContext): UsagePlanModel[] {
  const usagePlans = ctx.assembly.ofType("AWS::ApiGateway::UsagePlan").map(([logicalId, resource]) => {
    const p = ctx.props(resource);
    const throttle = toThrottle(p["Throttle"]);
    return {
      id: ctx.assembly.ref(logicalId),
      name: String(p["UsagePlanName"] ?? logicalId),
      ...(typeof p["Description"] === "string" && { description: p["Description"] }),
      ...(throttle && { throttle }),
      apiStages: ((p["ApiStages"] ?? []) as Record<string, unknown>[]).map((s) => ({
        apiId: String(s["ApiId"]),
        stage: String(s["Stage"]),
        throttle: Object.fromEntries(
          Object.entries((s["Throttle"] ?? {}) as Record<string, unknown>).flatMap(([k, v]) => {
            const t = toThrottle(v);
            return t ? [[k, t]] : [];
          }),
        ),
      })),
    };
  });
  return usagePlans;
}

function readApiKeys(ctx: ReadContext): ApiKeyModel[] {
  const apiKeys = ctx.assembly.ofType("AWS::ApiGateway::ApiKey").map(([logicalId, resource]) => {
    const p = ctx.props(resource);
    const id = ctx.assembly.ref(logicalId);
    return {
      id,
      name: String(p["Name"] ?? id),
      value: String(p["Value"] ?? id),
      enabled: p["Enabled"] !== false,
      ...(typeof p["Description"] === "string" && { description: p["Description"] }),
    };
  });
  return apiKeys;
}

function readUsagePlanKeys(ctx: ReadContext): [string, string][] {
  const usagePlanKeys = ctx.assembly.ofType("AWS::ApiGateway::UsagePlanKey").map(([, resource]) => {
    const p = ctx.props(resource);
    return [String(p["UsagePlanId"]), String(p["KeyId"])] as [string, string];
  });

  return usagePlanKeys;
}

function toThrottle(value: unknown): Throttle | undefined {
  const t = (value ?? {}) as Record<string, unknown>;
  if (t["RateLimit"] === undefined && t["BurstLimit"] === undefined) return undefined;
  return { rateLimit: Number(t["RateLimit"] ?? 0), burstLimit: Number(t["BurstLimit"] ?? 0) };
}

/** Resource id -> its full path (`/`, `/v1`, `/v1/{proxy+}`), following ParentId up to the root. */
function resourcePaths(
  assembly: Assembly,
  apiLogicalId: string,
  resources: [string, CfnResource][],
): Map<string, string> {
  const rootId = assembly.getAtt(apiLogicalId, "RootResourceId");
  const byId = new Map(
    resources.map(([logicalId, r]) => {
      const p = assembly.resolve(r.Properties ?? {}) as Record<string, unknown>;
      return [assembly.ref(logicalId), { parent: String(p["ParentId"]), part: String(p["PathPart"]) }];
    }),
  );
  const paths = new Map<string, string>([[rootId, "/"]]);
  const pathOf = (id: string, depth = 0): string => {
    const known = paths.get(id);
    if (known) return known;
    const entry = byId.get(id);
    if (!entry || depth > 64) throw new Error(`unknown API Gateway resource ${id}`);
    const parent = pathOf(entry.parent, depth + 1);
    const path = `${parent === "/" ? "" : parent}/${entry.part}`;
    paths.set(id, path);
    return path;
  };
  for (const id of byId.keys()) pathOf(id);
  return paths;
}
