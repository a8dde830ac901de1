/**
 * HTTP errors of the API, each rendered as an RFC 9457 problem (`application/problem+json`)
 * by `functions/commons/middleware/problem-responses.ts`. Domain errors (`functions/domain/errors.ts`)
 * are mapped there too. Only errors below 500 are shown to callers (`expose`).
 */
import { errorTypeUri } from "../domain/error-catalogue.ts";

/**
 * A problem's `code` (its entry in the error catalogue) from its slug, and its `type`:
 * `/v1/errors#<CODE>` (under the API's base path when served: `problem-responses.ts`;
 * `validation-failed` -> `VALIDATION_FAILED`).
 */
export function problemCode(slug: string): string {
  return slug.toUpperCase().replaceAll("-", "_");
}
export function problemType(slug: string): string {
  return errorTypeUri(problemCode(slug));
}

/** One field problem: a JSON Pointer into the request (`/body/ndrAddress`, `/query/limit`). */
export interface FieldProblem {
  pointer: string;
  detail: string;
}

export interface Problem {
  type: string;
  /** The error catalogue's code (the fragment of `type`). */
  code: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
}

export class HttpError extends Error {
  readonly status: number;
  /** Problem type slug; its code (`problemCode`) is in the error catalogue (docs/errors.md). */
  readonly slug: string;
  readonly title: string;
  readonly errors: FieldProblem[] | undefined;
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    slug: string,
    title: string,
    detail: string,
    extra: { errors?: FieldProblem[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.errors = extra.errors;
    this.headers = extra.headers ?? {};
  }

  /** Whether the detail may be shown to the caller. */
  get expose(): boolean {
    return this.status < 500;
  }

  toProblem(): Problem {
    return {
      type: problemType(this.slug),
      code: problemCode(this.slug),
      title: this.title,
      status: this.status,
      detail: this.message,
      ...(this.errors && { errors: this.errors }),
    };
  }
}

export class RequestValidationError extends HttpError {
  override readonly name = "RequestValidationError";
  constructor(errors: FieldProblem[], detail = "The request is not valid; see errors.") {
    super(400, "validation-failed", "Invalid request", detail, { errors });
  }
}

export class MalformedJsonError extends HttpError {
  override readonly name = "MalformedJsonError";
  constructor() {
    super(400, "malformed-json", "Malformed JSON", "The request body is not valid JSON.");
  }
}

/** A 401's detail and challenge, the same from the API function and from API Gateway's own 401. */
export const UNAUTHORIZED_DETAIL = "A valid API key is required: Authorization: Bearer <key>.";
export const BEARER_CHALLENGE = 'Bearer realm="journal-onboarding"';

export class UnauthorizedError extends HttpError {
  override readonly name = "UnauthorizedError";
  constructor() {
    super(401, "unauthorized", "Unauthorized", UNAUTHORIZED_DETAIL, {
      headers: { "www-authenticate": BEARER_CHALLENGE },
    });
  }
}

export class ForbiddenError extends HttpError {
  override readonly name = "ForbiddenError";
  constructor(detail: string) {
    super(403, "forbidden", "Forbidden", detail);
  }
}

export class RouteNotFoundError extends HttpError {
  override readonly name = "RouteNotFoundError";
  constructor(detail = "No such resource.") {
    super(404, "not-found", "Not found", detail);
  }
}

export class MethodNotAllowedError extends HttpError {
  override readonly name = "MethodNotAllowedError";
  constructor(allowed: readonly string[]) {
    super(405, "method-not-allowed", "Method not allowed", `Allowed methods: ${allowed.join(", ")}.`, {
      headers: { allow: allowed.join(", ") },
    });
  }
}

export class PayloadTooLargeError extends HttpError {
  override readonly name = "PayloadTooLargeError";
  constructor(maxBytes: number) {
    super(
      413,
      "payload-too-large",
      "Payload too large",
      `The request body is larger than ${maxBytes} bytes.`,
    );
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  override readonly name = "UnsupportedMediaTypeError";
  constructor() {
    super(
      415,
      "unsupported-media-type",
      "Unsupported media type",
      "The request body must be application/json (UTF-8).",
    );
  }
}

export class IdempotencyKeyReusedError extends HttpError {
  override readonly name = "IdempotencyKeyReusedError";
  constructor() {
    super(
      422,
      "idempotency-key-reused",
      "Idempotency key reused",
      "This Idempotency-Key was used with a different request body; use a new key for a new request.",
    );
  }
}

export class IdempotencyInProgressError extends HttpError {
  override readonly name = "IdempotencyInProgressError";
  constructor(retryAfterSeconds: number) {
    super(
      409,
      "idempotency-in-progress",
      "Request in progress",
      "A request with this Idempotency-Key is still being processed; retry after the indicated delay.",
      { headers: { "retry-after": String(retryAfterSeconds) } },
    );
  }
}

export class NotImplementedError extends HttpError {
  override readonly name = "NotImplementedError";
  constructor(detail: string) {
    super(501, "not-implemented", "Not implemented", detail);
  }
}
