/**
 * The API's own middy middleware, driven by the route table: match the route, authenticate
 * and authorise the caller, then parse and validate path, query, headers and body against the
 * route's zod schemas. Results land on the request's context (`ApiContext`).
 */
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import * as z from "zod";
import type { LoggingContext } from "../commons/middleware/request-logger.ts";
import type { Principal } from "../domain/store.ts";
import { type Authorize, fromAuthorizerContext } from "./auth.ts";
import {
  type FieldProblem,
  ForbiddenError,
  MalformedJsonError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RequestValidationError,
  RouteNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "./errors.ts";
import { matchRoute, type Route, type RouteMatch } from "./router.ts";
import { IdempotencyHeaders } from "./schemas.ts";

/** What the middleware learns about a request, for the handler. */
export interface ApiContext extends LoggingContext {
  match?: RouteMatch;
  principal?: Principal;
  input?: { params: unknown; query: unknown; body: unknown; headers: Record<string, string> };
}

type ApiMiddleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, ApiContext>;

/** The API's body limit: one MB (413 above). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Field problems listed in one answer, at most (10,000 bad members must not make a huge problem). */
const MAX_FIELD_PROBLEMS = 100;

export function routeMatching(routes: readonly Route[]): ApiMiddleware {
  return {
    name: "routeMatching",
    before: (request) => {
      request.context.match = matchRoute(routes, request.event.httpMethod, request.event.path ?? "");
    },
  };
}

/**
 * Resolves the principal: from `requestContext.authorizer` when the API Gateway authorizer ran,
 * else with `authorize(headers)` (local runtime). Unknown routes need a key too, so that they
 * reveal nothing to anonymous callers.
 */
export function authentication(authorize: Authorize): ApiMiddleware {
  return {
    name: "authentication",
    before: async (request) => {
      const match = request.context.match;
      if (match?.kind === "found" && match.route.access === "public") return;
      const authorizerContext = request.event.requestContext?.authorizer as
        | Record<string, unknown>
        | null
        | undefined;
      const principal =
        authorizerContext && "role" in authorizerContext
          ? fromAuthorizerContext(authorizerContext)
          : await authorize(request.event.headers, request.event.requestContext?.identity?.sourceIp);
      if (!principal) throw new UnauthorizedError();
      request.context.principal = principal;
      if (principal.partnerId) request.context.log.appendPersistentKeys({ partnerId: principal.partnerId });
      request.context.log.appendPersistentKeys({ role: principal.role });

      if (!match || match.kind === "not-found") throw new RouteNotFoundError();
      if (match.kind === "method-not-allowed") throw new MethodNotAllowedError(match.allowed);
      const { access } = match.route;
      if (access !== "any" && access !== "public" && !access.includes(principal.role)) {
        throw new ForbiddenError(`This operation is for ${access.join(" or ")} keys.`);
      }
    },
  };
}

export function requestValidation(): ApiMiddleware {
  return {
    name: "requestValidation",
    before: (request) => {
      const match = request.context.match;
      if (match?.kind !== "found") throw new RouteNotFoundError();
      const { route } = match;
      const { event } = request;
      const headers = lowerCaseHeaders(event.headers);
      const problems: FieldProblem[] = [];

      const params = validate(route.params ?? EMPTY, match.params, "/path", problems);
      const query = validate(route.query ?? EMPTY, queryOf(event, problems), "/query", problems);
      if (route.idempotent) validate(IdempotencyHeaders, headers, "/header", problems);

      let body: unknown;
      if (route.body) {
        // Media type, size and syntax problems are answered before field problems.
        const json = readJsonBody(event, headers);
        if (json === NO_BODY) {
          if (!route.optionalBody) problems.push({ pointer: "/body", detail: "A JSON body is required" });
        } else body = validate(route.body, json, "/body", problems);
      } else if (bodyText(event).trim().length > 0) {
        // An operation without a body has no fields: anything sent is an unknown field.
        problems.push({ pointer: "/body", detail: "This operation takes no body" });
      }
      if (problems.length > 0) {
        const shown = problems.slice(0, MAX_FIELD_PROBLEMS);
        throw new RequestValidationError(
          shown,
          problems.length > shown.length
            ? `The request is not valid; the first ${shown.length} of ${problems.length} problems are listed.`
            : undefined,
        );
      }
      const tenantId = (params as { tenantId?: string }).tenantId;
      if (tenantId) request.context.log.appendPersistentKeys({ tenantId });
      request.context.input = { params, query, body, headers };
    },
  };
}

const EMPTY = z.strictObject({});
const NO_BODY = Symbol("no body");

function validate(schema: z.ZodType, value: unknown, base: string, problems: FieldProblem[]): unknown {
  const result = schema.safeParse(value, { reportInput: false });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const at = base + issue.path.map((p) => `/${escapePointer(String(p))}`).join("");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys)
        problems.push({ pointer: `${at}/${escapePointer(key)}`, detail: "Unknown field" });
    } else {
      problems.push({ pointer: at, detail: issue.message });
    }
  }
  return undefined;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function lowerCaseHeaders(headers: APIGatewayProxyEvent["headers"] | null): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {})
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([key, value]) => [key.toLowerCase(), value]),
  );
}

function queryOf(event: APIGatewayProxyEvent, problems: FieldProblem[]): Record<string, string> {
  // fromEntries defines own properties, so a key such as `__proto__` is seen (and refused).
  const query: Record<string, string> = Object.fromEntries(
    Object.entries(event.queryStringParameters ?? {}).filter(
      (e): e is [string, string] => e[1] !== undefined,
    ),
  );
  for (const [key, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    if (values && values.length > 1) {
      problems.push({ pointer: `/query/${escapePointer(key)}`, detail: "Must not be repeated" });
    }
  }
  return query;
}

/** The body as text (API Gateway passes it base64 for the API's binary media types). */
function bodyText(event: APIGatewayProxyEvent): string {
  const raw = event.body ?? "";
  return event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
}

function readJsonBody(event: APIGatewayProxyEvent, headers: Record<string, string>): unknown {
  const raw = event.body ?? "";
  // A front end that drops an oversized body (the local HTTP server) still says how big it was.
  const declared = Number(headers["content-length"] ?? 0);
  if (raw.length === 0 && !(declared > 0)) return NO_BODY;
  if (!isJsonMediaType(headers["content-type"])) throw new UnsupportedMediaTypeError();
  if (declared > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  const bytes = event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
  if (bytes.length > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new MalformedJsonError();
  }
  if (text.trim().length === 0) return NO_BODY;
  try {
    return JSON.parse(text);
  } catch {
    // Includes a RangeError from pathologically deep nesting.
    throw new MalformedJsonError();
  }
}

/** `application/json`, optionally with `charset=utf-8`; nothing else. */
function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [type, ...params] = contentType.split(";").map((s) => s.trim().toLowerCase());
  if (type !== "application/json") return false;
  return params.every((p) => p === "" || /^charset="?utf-8"?$/.test(p));
}
