/** The answers API Gateway gives itself (before or instead of the API function), as problem+json. */
import { ResponseType, type RestApi } from "aws-cdk-lib/aws-apigateway";
import { BEARER_CHALLENGE, UNAUTHORIZED_DETAIL } from "../../functions/api/errors.ts";

/** Problem+json bodies for the answers API Gateway gives itself (before or instead of the API function). */
const GATEWAY_PROBLEMS: readonly {
  type: ResponseType;
  title: string;
  status?: number;
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
    detail: UNAUTHORIZED_DETAIL,
    headers: { "WWW-Authenticate": `'${BEARER_CHALLENGE}'` },
  },
  { type: ResponseType.ACCESS_DENIED, title: "Forbidden", status: 403 },
  { type: ResponseType.THROTTLED, title: "Too Many Requests", status: 429, retryAfter: 1 },
  { type: ResponseType.REQUEST_TOO_LARGE, title: "Content Too Large", status: 413 },
  { type: ResponseType.DEFAULT_4XX, title: "Bad Request" },
  { type: ResponseType.DEFAULT_5XX, title: "Internal Server Error" },
];

/** Adds one gateway response per entry of `GATEWAY_PROBLEMS`. */
export function addGatewayProblems(api: RestApi): void {
  for (const problem of GATEWAY_PROBLEMS) {
    const status = problem.status === undefined ? "" : `,"status":${problem.status}`;
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
        "application/json": `{"type":"about:blank","title":"${problem.title}"${status},"detail":${detail}}`,
      },
    });
  }
}
