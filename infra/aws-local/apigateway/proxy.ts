/**
 * The Lambda proxy integration of a REST API: the event API Gateway sends (payload format 1.0)
 * and the answer it expects back (anything else is a 502 `Internal server error`).
 */
import { LOCAL_ACCOUNT } from "../contracts.ts";

export interface IncomingRequest {
  method: string;
  /** The request path with the stage removed (`/v1/tenants`). */
  path: string;
  /** The path as the client sent it (`/prod/v1/tenants` under the stage). */
  rawPath: string;
  /** Raw header pairs in the order and case the client sent them. */
  rawHeaders: string[];
  query: URLSearchParams;
  body: Buffer;
  sourceIp: string;
  requestId: string;
  receivedAt: Date;
}

export interface ProxyContext {
  apiId: string;
  stage: string;
  resourceId: string;
  resourcePath: string;
  pathParameters: Record<string, string> | null;
  binaryMediaTypes: string[];
  authorizer?: Record<string, string | number>;
  apiKey?: { id: string; value: string };
}

export function headerMaps(rawHeaders: string[]): {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
} {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    // Same name, other case: API Gateway keeps the first spelling.
    const key = Object.keys(multiValueHeaders).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
    headers[key] = value;
    multiValueHeaders[key] = [...(multiValueHeaders[key] ?? []), value];
  }
  return { headers, multiValueHeaders };
}

export function headerValue(rawHeaders: string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === name.toLowerCase()) found = rawHeaders[i + 1];
  }
  return found;
}

/** Whether an Accept header's media types include one of the API's binary media types. */
export function acceptsBinary(accept: string | undefined, binaryMediaTypes: string[]): boolean {
  return (accept ?? "").split(",").some((type) => isBinary(type, binaryMediaTypes));
}

/** Whether a Content-Type is one of the API's binary media types (`*\/*` and `image/*` included). */
export function isBinary(contentType: string | undefined, binaryMediaTypes: string[]): boolean {
  if (!contentType || binaryMediaTypes.length === 0) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return binaryMediaTypes.some((pattern) => {
    const [major, minor] = pattern.toLowerCase().split("/");
    const [tMajor, tMinor] = type.split("/");
    return (major === "*" || major === tMajor) && (minor === "*" || minor === tMinor);
  });
}

export function proxyEvent(request: IncomingRequest, context: ProxyContext): Record<string, unknown> {
  const { headers, multiValueHeaders } = headerMaps(request.rawHeaders);
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of request.query) {
    single[name] = value;
    multi[name] = [...(multi[name] ?? []), value];
  }
  const hasQuery = Object.keys(single).length > 0;
  const binary = isBinary(headerValue(request.rawHeaders, "content-type"), context.binaryMediaTypes);
  const body = request.body.length === 0 ? null : request.body.toString(binary ? "base64" : "utf8");
  const host = headerValue(request.rawHeaders, "host") ?? "localhost";
  return {
    resource: context.resourcePath,
    path: request.path,
    httpMethod: request.method,
    headers: Object.keys(headers).length > 0 ? headers : null,
    multiValueHeaders: Object.keys(headers).length > 0 ? multiValueHeaders : null,
    queryStringParameters: hasQuery ? single : null,
    multiValueQueryStringParameters: hasQuery ? multi : null,
    pathParameters: context.pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: context.apiId,
      resourceId: context.resourceId,
      resourcePath: context.resourcePath,
      stage: context.stage,
      requestId: request.requestId,
      extendedRequestId: request.requestId,
      requestTime: requestTime(request.receivedAt),
      requestTimeEpoch: request.receivedAt.getTime(),
      path: request.rawPath,
      httpMethod: request.method,
      protocol: "HTTP/1.1",
      domainName: host,
      domainPrefix: host.split(".")[0],
      identity: {
        sourceIp: request.sourceIp,
        userAgent: headerValue(request.rawHeaders, "user-agent") ?? null,
        apiKey: context.apiKey?.value ?? null,
        apiKeyId: context.apiKey?.id ?? null,
        accessKey: null,
        accountId: null,
        caller: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        user: null,
        userArn: null,
      },
      ...(context.authorizer && { authorizer: context.authorizer }),
    },
    body,
    isBase64Encoded: body !== null && binary,
  };
}

export interface ProxyAnswer {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

/**
 * The function's answer as API Gateway reads it; undefined when malformed (a 502). A base64 body
 * (`isBase64Encoded`) is decoded only when `binaryAccepted` (the request's Accept header names a
 * binary media type of the API); otherwise the client gets the base64 text.
 */
export function readProxyAnswer(payload: unknown, binaryAccepted = false): ProxyAnswer | undefined {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return undefined;
  const answer = payload as Record<string, unknown>;
  const allowed = new Set(["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"]);
  if (Object.keys(answer).some((k) => !allowed.has(k))) return undefined;
  const status = Number(answer["statusCode"]);
  if (!Number.isInteger(status) || status < 100 || status > 599) return undefined;
  if (answer["body"] !== undefined && answer["body"] !== null && typeof answer["body"] !== "string") {
    return undefined;
  }
  const headers: [string, string][] = [];
  const single = answer["headers"] ?? {};
  const multi = answer["multiValueHeaders"] ?? {};
  if (typeof single !== "object" || single === null || typeof multi !== "object" || multi === null) {
    return undefined;
  }
  const fromMulti = new Set<string>();
  for (const [name, values] of Object.entries(multi)) {
    if (!Array.isArray(values)) return undefined;
    fromMulti.add(name.toLowerCase());
    for (const v of values) headers.push([name, String(v)]);
  }
  for (const [name, value] of Object.entries(single)) {
    if (value !== null && typeof value === "object") return undefined;
    // A header in both maps: multiValueHeaders wins.
    if (!fromMulti.has(name.toLowerCase())) headers.push([name, String(value)]);
  }
  const text = (answer["body"] as string | null | undefined) ?? "";
  const decode = answer["isBase64Encoded"] === true && binaryAccepted;
  const body = decode ? Buffer.from(text, "base64") : Buffer.from(text, "utf8");
  return { status, headers, body };
}

/** `07/Dec/2026:15:20:05 +0000`, as `requestContext.requestTime`. */
function requestTime(date: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(
    date.getUTCHours(),
  )}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}
