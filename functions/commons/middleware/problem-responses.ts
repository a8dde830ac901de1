/**
 * Middy error handler that answers with RFC 9457 problem details (`application/problem+json`).
 * Errors the mapper exposes (status < 500) are shown as mapped; anything else becomes a plain
 * problem with the status's standard title and no detail, and is logged in full internally.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyResult, Context } from "aws-lambda";

export interface MappedProblem {
  status: number;
  /** The problem object (type, title, status, detail, errors...). */
  problem: object;
  headers?: Record<string, string>;
}

export interface ProblemResponsesOptions {
  /** Maps a known error to its problem; undefined for unexpected errors. */
  map: (error: unknown) => MappedProblem | undefined;
  /** Where unexpected errors are logged. */
  logger: (context: Context) => Logger;
}

const STANDARD_TITLES: Record<number, string> = {
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemResponses<TEvent>(
  options: ProblemResponsesOptions,
): MiddlewareObj<TEvent, APIGatewayProxyResult, Error, Context> {
  return {
    name: "problemResponses",
    onError: (request) => {
      if (request.response !== undefined) return;
      const mapped = options.map(request.error);
      if (mapped && mapped.status < 500) {
        request.response = {
          statusCode: mapped.status,
          headers: { ...mapped.headers, "content-type": PROBLEM_CONTENT_TYPE },
          body: JSON.stringify(mapped.problem),
        };
        return;
      }
      const status = mapped?.status ?? 500;
      if (status === 500) options.logger(request.context).error("Unhandled error", request.error as Error);
      request.response = {
        statusCode: status,
        headers: { "content-type": PROBLEM_CONTENT_TYPE },
        body: JSON.stringify({
          type: "about:blank",
          title: STANDARD_TITLES[status] ?? "Server Error",
          status,
        }),
      };
    },
  };
}
