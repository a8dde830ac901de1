/**
 * One request through the REST API as API Gateway processes it: resource and method, the
 * Lambda authorizer, the request validator, the API key and its usage plan, throttling, then
 * the Lambda proxy integration (29 s at most); each refusal is the template's gateway response.
 */
import type { Invoke, InvokeResult } from "../contracts.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts.ts";
import { createTokenAuthorizer, type TokenAuthorizer } from "./authorizer.ts";
import type { ApiKeyStore } from "./keys.ts";
import type { MethodModel, RestApiModel, Throttle } from "./model.ts";
import { acceptsBinary, headerValue, type IncomingRequest, proxyEvent, readProxyAnswer } from "./proxy.ts";
import { type GatewayAnswer, type GatewayErrorType, gatewayResponse } from "./responses.ts";
import { createRouter } from "./router.ts";
import { methodThrottle, TokenBuckets } from "./throttle.ts";

/** API Gateway's integration timeout. */
export const INTEGRATION_TIMEOUT_MS = 29_000;
/** API Gateway's payload limit. */
export const PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024;
/**
 * Response headers of the function that API Gateway renames `x-amzn-Remapped-<name>` (its REST
 * API notes): a client never sees the function's own WWW-Authenticate, Date or Server.
 */
const REMAPPED = new Set(
  [
    "Authorization",
    "Connection",
    "Content-Length",
    "Content-MD5",
    "Date",
    "Expect",
    "Host",
    "Max-Forwards",
    "Proxy-Authenticate",
    "Server",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "User-Agent",
    "Via",
    "Warn",
    "WWW-Authenticate",
  ].map((h) => h.toLowerCase()),
);
/** The account's API Gateway limit in a region (all APIs). */
const ACCOUNT_THROTTLE: Throttle = { rateLimit: 10_000, burstLimit: 5_000 };

export interface GatewayOptions {
  api: RestApiModel;
  keys: ApiKeyStore;
  invoke: Invoke;
  integrationTimeoutMs?: number;
  now?: () => number;
}

export interface Gateway {
  handle(
    request: IncomingRequest,
  ): Promise<GatewayAnswer | { status: number; headers: [string, string][]; body: Buffer }>;
  /** Refusal for a body over the payload limit (the server stops reading it). */
  tooLarge(requestId: string): GatewayAnswer;
  authorizers: Map<string, TokenAuthorizer>;
}

export function createGateway(options: GatewayOptions): Gateway {
  const { api, keys, invoke } = options;
  const route = createRouter(api);
  const buckets = new TokenBuckets(options.now);
  const authorizers = new Map(
    [...api.authorizers.values()].map((a) => [a.id, createTokenAuthorizer(a, invoke, options.now)]),
  );
  const refuse = (type: GatewayErrorType, message: string | null, requestId: string) =>
    gatewayResponse(api.gatewayResponses, type, message, requestId);

  const handle: Gateway["handle"] = async (request) => {
    const { requestId } = request;
    const match = route(request.method, request.path);
    if (!match) return refuse("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", requestId);
    const { method } = match;
    const throttles = [{ key: "account", throttle: ACCOUNT_THROTTLE }, ...stageThrottle(api, method)];
    const guarded = method.authorizationType === "CUSTOM" || method.apiKeyRequired;
    if (!guarded && !buckets.take(throttles)) return refuse("THROTTLED", "Too Many Requests", requestId);

    let authorizer: Record<string, string | number> | undefined;
    let usageIdentifierKey: string | undefined;
    if (method.authorizationType === "CUSTOM" && method.authorizerId) {
      const model = api.authorizers.get(method.authorizerId);
      const token = model && identityHeader(model.identitySource, request.rawHeaders);
      const methodArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${api.apiId}/${api.stageName}/${request.method}${request.path}`;
      const outcome = await (authorizers.get(method.authorizerId) as TokenAuthorizer).authorize(
        token,
        methodArn,
      );
      if (!outcome.ok) return refuse(outcome.type, outcome.message, requestId);
      authorizer = outcome.context;
      usageIdentifierKey = outcome.usageIdentifierKey;
    }

    const missing = missingParameters(api, method, request);
    if (missing.length > 0) {
      return refuse(
        "BAD_REQUEST_PARAMETERS",
        `Missing required request parameters: [${missing.join(", ")}]`,
        requestId,
      );
    }

    let apiKey: { id: string; value: string } | undefined;
    if (method.apiKeyRequired) {
      const value =
        api.apiKeySource === "AUTHORIZER" ? usageIdentifierKey : headerValue(request.rawHeaders, "x-api-key");
      const found = value === undefined ? undefined : usagePlanOf(api, keys, value);
      if (!found) return refuse("INVALID_API_KEY", "Forbidden", requestId);
      apiKey = { id: found.keyId, value: value as string };
      throttles.push(...found.throttles(method));
    }
    if (guarded && !buckets.take(throttles)) return refuse("THROTTLED", "Too Many Requests", requestId);

    if (!method.functionArn) return refuse("INTEGRATION_FAILURE", "Internal server error", requestId);
    const event = proxyEvent(request, {
      apiId: api.apiId,
      stage: api.stageName,
      resourceId: method.resourceId,
      resourcePath: method.resourcePath,
      pathParameters: match.pathParameters,
      binaryMediaTypes: api.binaryMediaTypes,
      ...(authorizer && { authorizer }),
      ...(apiKey && { apiKey }),
    });
    const binaryAccepted = acceptsBinary(headerValue(request.rawHeaders, "accept"), api.binaryMediaTypes);
    return integrate(method.functionArn, event, requestId, binaryAccepted);
  };

  const integrate = async (
    functionArn: string,
    event: unknown,
    requestId: string,
    binaryAccepted: boolean,
  ) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS);
    });
    // An invocation that could not be made at all (no such function) fails like a refused one.
    const invoked = invoke(functionArn, event).catch(
      (): InvokeResult => ({
        ok: false,
        errorType: "ServiceException",
        errorMessage: "not invoked",
        refused: true,
      }),
    );
    const result = await Promise.race([invoked, timeout]).finally(() => clearTimeout(timer));
    if (result === "timeout") return refuse("INTEGRATION_TIMEOUT", "Endpoint request timed out", requestId);
    // Lambda refused the invocation (throttled): API Gateway answers 500.
    if (!result.ok && result.refused)
      return refuse("INTEGRATION_FAILURE", "Internal server error", requestId);
    const answer = result.ok ? readProxyAnswer(result.payload, binaryAccepted) : undefined;
    if (!answer) return refuse("BAD_GATEWAY", "Internal server error", requestId);
    answer.headers = answer.headers.map(([n, v]) => [
      REMAPPED.has(n.toLowerCase()) ? `x-amzn-Remapped-${n}` : n,
      v,
    ]);
    if (!answer.headers.some(([n]) => n.toLowerCase() === "content-type")) {
      answer.headers.push(["Content-Type", "application/json"]);
    }
    return answer;
  };

  return {
    handle,
    tooLarge: (requestId) => refuse("REQUEST_TOO_LARGE", "Request Too Long", requestId),
    authorizers,
  };
}

function stageThrottle(api: RestApiModel, method: MethodModel): { key: string; throttle: Throttle }[] {
  const throttle = methodThrottle(api.methodThrottles, method.resourcePath, method.httpMethod);
  return throttle ? [{ key: `method ${method.httpMethod} ${method.resourcePath}`, throttle }] : [];
}

/** `method.request.header.Authorization` -> the request's Authorization header. */
function identityHeader(identitySource: string, rawHeaders: string[]): string | undefined {
  const name = /^method\.request\.header\.(.+)$/.exec(identitySource.split(",")[0]?.trim() ?? "")?.[1];
  return name ? headerValue(rawHeaders, name) : undefined;
}

function missingParameters(api: RestApiModel, method: MethodModel, request: IncomingRequest): string[] {
  const validator = method.requestValidatorId ? api.validators.get(method.requestValidatorId) : undefined;
  if (!validator?.validateRequestParameters) return [];
  const missing: string[] = [];
  for (const [parameter, required] of Object.entries(method.requestParameters)) {
    if (!required) continue;
    const header = /^method\.request\.header\.(.+)$/.exec(parameter)?.[1];
    const query = /^method\.request\.querystring\.(.+)$/.exec(parameter)?.[1];
    if (header && !headerValue(request.rawHeaders, header)) missing.push(header);
    if (query && !request.query.has(query)) missing.push(query);
  }
  return missing;
}

/** The enabled API key of this value in a usage plan of this stage, with the throttles that apply. */
function usagePlanOf(api: RestApiModel, keys: ApiKeyStore, value: string) {
  const key = keys.keyByValue(value);
  if (!key?.enabled) return undefined;
  const plan = keys
    .plansOfKey(key.id)
    .find((p) => p.apiStages.some((s) => s.apiId === api.apiId && s.stage === api.stageName));
  if (!plan) return undefined;
  const stage = plan.apiStages.find((s) => s.apiId === api.apiId && s.stage === api.stageName);
  return {
    keyId: key.id,
    throttles: (method: MethodModel) => {
      const own = stage?.throttle[`${method.resourcePath}/${method.httpMethod}`];
      return [
        ...(plan.throttle ? [{ key: `plan ${plan.id} key ${key.id}`, throttle: plan.throttle }] : []),
        ...(own
          ? [
              {
                key: `plan ${plan.id} key ${key.id} ${method.httpMethod} ${method.resourcePath}`,
                throttle: own,
              },
            ]
          : []),
      ];
    },
  };
}
