/**
 * Gateway responses: the answers API Gateway gives itself (unknown route, authorizer refusal,
 * throttling, payload too large, integration failure). A response type customized in the
 * template (AWS::ApiGateway::GatewayResponse) is used as is; otherwise DEFAULT_4XX or
 * DEFAULT_5XX when customized (with the type's own status); otherwise API Gateway's default
 * `{"message": ...}`. Templates see `$context.error.message(String)` and `$context.requestId`.
 */
import type { GatewayResponseModel } from "./model.ts";

/** Response types with their default status and `x-amzn-ErrorType`. */
export const GATEWAY_ERRORS = {
  MISSING_AUTHENTICATION_TOKEN: { status: 403, errorType: "MissingAuthenticationTokenException" },
  UNAUTHORIZED: { status: 401, errorType: "UnauthorizedException" },
  ACCESS_DENIED: { status: 403, errorType: "AccessDeniedException" },
  INVALID_API_KEY: { status: 403, errorType: "ForbiddenException" },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, errorType: "AuthorizerConfigurationException" },
  AUTHORIZER_FAILURE: { status: 500, errorType: "AuthorizerFailureException" },
  BAD_REQUEST_PARAMETERS: { status: 400, errorType: "BadRequestException" },
  THROTTLED: { status: 429, errorType: "TooManyRequestsException" },
  REQUEST_TOO_LARGE: { status: 413, errorType: "RequestTooLargeException" },
  INTEGRATION_FAILURE: { status: 500, errorType: "InternalServerErrorException" },
  INTEGRATION_TIMEOUT: { status: 504, errorType: "InternalServerErrorException" },
  /** A malformed proxy answer or a function error: 502, DEFAULT_5XX. */
  BAD_GATEWAY: { status: 502, errorType: "InternalServerErrorException" },
} as const;

export type GatewayErrorType = keyof typeof GATEWAY_ERRORS;

export interface GatewayAnswer {
  status: number;
  headers: [string, string][];
  body: string;
}

export function gatewayResponse(
  responses: Map<string, GatewayResponseModel>,
  type: GatewayErrorType,
  message: string | null,
  requestId: string,
): GatewayAnswer {
  const { status: defaultStatus, errorType } = GATEWAY_ERRORS[type];
  // BAD_GATEWAY is no response type of its own: DEFAULT_5XX renders it.
  const own = type === "BAD_GATEWAY" ? undefined : responses.get(type);
  const fallback = responses.get(defaultStatus >= 500 ? "DEFAULT_5XX" : "DEFAULT_4XX");
  const chosen = own ?? fallback;
  const status = own?.statusCode ?? (own ? defaultStatus : (fallback?.statusCode ?? defaultStatus));
  const template =
    chosen?.templates["application/json"] ?? Object.values(chosen?.templates ?? {})[0] ?? DEFAULT_TEMPLATE;
  const messageString = message === null ? "null" : JSON.stringify(message);
  const body = template
    .replaceAll("$context.error.messageString", messageString)
    .replaceAll("$context.error.message", message ?? "")
    .replaceAll("$context.requestId", requestId);
  const headers: [string, string][] = [["Content-Type", "application/json"]];
  for (const [name, value] of Object.entries(chosen?.headers ?? {})) {
    const at = headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (at >= 0) headers.splice(at, 1);
    headers.push([name, value]);
  }
  headers.push(["x-amzn-ErrorType", errorType]);
  return { status, headers, body };
}

const DEFAULT_TEMPLATE = '{"message":$context.error.messageString}';
