/**
 * The answers API Gateway gives itself (before or instead of the API function), as problem+json
 * with the error catalogue's `code`, as the API function's own problems carry (a portal that
 * reads `code` gets one either way). Their `type` stays `about:blank`: a gateway response
 * cannot tell the stage's or custom domain's base path that `/v1/errors#<CODE>` needs.
 */
import { ResponseType, type RestApi } from "aws-cdk-lib/aws-apigateway";
import { BEARER_CHALLENGE, UNAUTHORIZED_DETAIL } from "../../functions/api/errors.ts";
import type { ErrorCode } from "../../functions/domain/error-catalogue.ts";

/** Problem+json bodies for the answers API Gateway gives itself (before or instead of the API function). */
const GATEWAY_PROBLEMS: readonly {
  type: ResponseType;
  title: string;
  status?: number;
  /** The error catalogue's code; none for DEFAULT_4XX, whose cause the template cannot tell. */
  code?: ErrorCode;
  retryAfter?: number;
  /** A fixed detail instead of API Gateway's message (a refused key's is just "Unauthorized"). */
  detail?: string;
  headers?: Record<string, string>;
}[] = [
  // The authorizer's refusal says what the API function's own 401 says: which key, and how to send it.
  {
    type: ResponseType.UNAUTHORIZED,
    title: "Unauthorized",
    status: 401,
    code: "UNAUTHORIZED",
    detail: UNAUTHORIZED_DETAIL,
    headers: { "WWW-Authenticate": `'${BEARER_CHALLENGE}'` },
  },
  { type: ResponseType.ACCESS_DENIED, title: "Forbidden", status: 403, code: "FORBIDDEN" },
  // A path or method the API does not have (API Gateway's own answer is 403 "Missing
  // Authentication Token"): the 404 the API function gives for an unknown path under /v1.
  {
    type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
    title: "Not found",
    status: 404,
    code: "NOT_FOUND",
    detail: "No such resource.",
  },
  {
    type: ResponseType.BAD_REQUEST_PARAMETERS,
    title: "Invalid request",
    status: 400,
    code: "VALIDATION_FAILED",
  },
  {
    type: ResponseType.THROTTLED,
    title: "Too Many Requests",
    status: 429,
    code: "RATE_LIMITED",
    retryAfter: 1,
  },
  {
    type: ResponseType.REQUEST_TOO_LARGE,
    title: "Content Too Large",
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
  },
  { type: ResponseType.DEFAULT_4XX, title: "Bad Request" },
  { type: ResponseType.DEFAULT_5XX, title: "Internal Server Error", code: "INTERNAL_ERROR" },
];

/** Adds one gateway response per entry of `GATEWAY_PROBLEMS`. */
export function addGatewayProblems(api: RestApi): void {
  for (const problem of GATEWAY_PROBLEMS) {
    const status = problem.status === undefined ? "" : `,"status":${problem.status}`;
    const code = problem.code === undefined ? "" : `,"code":"${problem.code}"`;
    const detail =
      problem.detail === undefined ? "$context.error.messageString" : JSON.stringify(problem.detail);
    api.addGatewayResponse(`Problem${problem.type.responseType}`, {
      type: problem.type,
      ...(problem.status === undefined ? {} : { statusCode: String(problem.status) }),
      responseHeaders: {
        "Content-Type": "'application/problem+json'",
        ...(problem.retryAfter !== undefined && { "Retry-After": `'${problem.retryAfter}'` }),
        ...problem.headers,
      },
      templates: {
        "application/json": `{"type":"about:blank"${code},"title":"${problem.title}"${status},"detail":${detail}}`,
      },
    });
  }
}
