/**
 * Middy middleware: a per-request child of the Powertools logger (with the request id) on
 * `context.log`, and one access line per request. It never logs headers or bodies: they carry
 * API keys and customer data.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";

export interface LoggingContext extends Context {
  /** The request's logger; add keys with `appendPersistentKeys` (they stay on this request). */
  log: Logger;
}

export interface RequestLoggerOptions {
  logger: Logger;
  /** A low-cardinality name of the operation for the access line (e.g. the route template). */
  operation?: (context: Context) => string | undefined;
}

export function requestLogger(
  options: RequestLoggerOptions,
): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, LoggingContext> {
  const started = new WeakMap<object, number>();
  const done = (request: {
    event: APIGatewayProxyEvent;
    context: LoggingContext;
    response: APIGatewayProxyResult | null | undefined;
  }) => {
    const status = request.response?.statusCode ?? 500;
    const line = {
      method: request.event.httpMethod,
      operation: options.operation?.(request.context),
      status,
      durationMs: Date.now() - (started.get(request.event) ?? Date.now()),
    };
    if (status >= 500) request.context.log.error("request failed", line);
    else request.context.log.info("request completed", line);
  };
  return {
    name: "requestLogger",
    before: (request) => {
      started.set(request.event, Date.now());
      const requestId = request.event.requestContext?.requestId ?? request.context.awsRequestId;
      request.context.log = options.logger.createChild({
        persistentKeys: { ...(requestId && { requestId }) },
      });
    },
    after: done,
    onError: (request) => {
      // Runs after the problem handler (middy runs onError in reverse order of `use`).
      request.context.log ??= options.logger;
      done(request);
    },
  };
}
