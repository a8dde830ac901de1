/**
 * The composed partner API: one function from an API Gateway REST proxy event to its result.
 * The Lambda handler (`handler.ts`) and the local runtime both call `createApi(...)`.
 *
 * Middleware order (middy): request logger -> response headers -> problem responses ->
 * route matching -> authentication -> request validation -> handler (idempotency + the route).
 * `/console` and `/console/{file}` (the ops console's static files) are answered before the chain.
 */

import type { BasePersistenceLayer } from "@aws-lambda-powertools/idempotency/persistence";
import { Logger } from "@aws-lambda-powertools/logger";
import middy from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { type MappedProblem, problemResponses } from "../commons/middleware/problem-responses.ts";
import { requestLogger } from "../commons/middleware/request-logger.ts";
import { consoleResponse, isConsolePath } from "../console/assets.ts";
import type { ClaimStore, ConsentLinks } from "../domain/binding.ts";
import type { ChangeLogStore } from "../domain/change-log.ts";
import { DriftService } from "../domain/drift-service.ts";
import type { DriftCheckStarter, WorkflowEngine } from "../domain/engine.ts";
import {
  ConflictError,
  InvalidCorrectionError,
  InvalidCursorError,
  InvalidWebhookUrlError,
  TenantNotFoundError,
  WebhookNotFoundError,
  WorkflowStartError,
} from "../domain/errors.ts";
import { OnboardingService } from "../domain/onboarding.ts";
import { PartnerKeyNotFoundError, type PartnerLimits, PartnerService } from "../domain/partners.ts";
import type { TenantStore } from "../domain/store.ts";
import type { WebhookService } from "../domain/webhooks.ts";
import { type Authorize, createAuthorizer, type OpsKeyHash } from "./auth.ts";
import { HttpError, problemCode, problemType } from "./errors.ts";
import { IdempotentRequests, MemoryIdempotencyLayer, type StoredResponse } from "./idempotency.ts";
import { type ApiContext, authentication, requestValidation, routeMatching } from "./middleware.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { anonymousSubject, type RateLimiter } from "./rate-limit.ts";
import type { ApiServices, RouteResult } from "./router.ts";
import { routes } from "./routes.ts";

export interface ApiDependencies {
  store: TenantStore;
  engine: WorkflowEngine;
  /** SHA-256 (hex) of the ops API key, or a function giving the current one (a cached secret read). */
  opsKeyHash: OpsKeyHash;
  /** @default a Powertools logger with service `journal-onboarding-api` */
  logger?: Logger;
  /** The audit trail (`GET .../changes`); without it the trail is empty. */
  changeLog?: ChangeLogStore;
  /** Starts drift checks (`POST .../drift-checks`); without it they answer 503. */
  driftChecks?: DriftCheckStarter;
  /** Backs the `/v1/webhook*` routes; without it they answer 501. */
  webhooks?: WebhookService;
  /**
   * Where Idempotency-Key records live: `new TableIdempotencyLayer({ client, tableName })` in
   * AWS and locally. @default in process memory (one process only)
   */
  idempotency?: BasePersistenceLayer;
  /** How long a duplicate waits for the first in-progress request. @default 10_000 */
  idempotencyWaitMs?: number;
  /** Resolves keys; @default createAuthorizer({ store, opsKeyHash }) */
  authorize?: Authorize;
  /**
   * Per-caller request limits in process (the local runtime): each partner, ops and anonymous
   * traffic have their own bucket. In AWS, API Gateway usage plans do this. @default none
   */
  rateLimiter?: RateLimiter;
  /**
   * The Microsoft 365 app's client id, for the permissions script; without it that route
   * answers 501. @default none
   */
  m365AppId?: () => Promise<string | undefined>;
  /** Gives each new partner its own limit outside the process (AWS usage plan keys). @default none */
  partnerLimits?: PartnerLimits;
  /**
   * Binding tenants to partners by consent (claims, customer names, consent links). Both
   * runtimes wire it in; without it a POST registers and starts onboarding at once.
   */
  binding?: { claims: ClaimStore; links?: ConsentLinks; changeLog?: ChangeLogStore };
  clock?: () => Date;
}

/** An API Gateway REST proxy handler. */
export type ApiHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

/**
 * Composes the API from its dependencies.
 *
 * @example
 * ```ts
 * const api = createApi({ store, engine, opsKeyHash: hashApiKey(opsKey), idempotency: new TableIdempotencyLayer({ client, tableName }) });
 * const result = await api(event, context); // { statusCode, headers, body }
 * ```
 */
export function createApi(deps: ApiDependencies): ApiHandler {
  const logger = deps.logger ?? new Logger({ serviceName: "journal-onboarding-api" });
  const resolve = deps.authorize ?? createAuthorizer({ store: deps.store, opsKeyHash: deps.opsKeyHash });
  const limiter = deps.rateLimiter;
  // With a limiter, every resolved key draws from its own bucket, and a bad key from its address's.
  const authorize: Authorize = limiter
    ? async (headers, address) => {
        const principal = await resolve(headers);
        limiter.take(principal ? (principal.partnerId ?? principal.role) : anonymousSubject(address));
        return principal;
      }
    : resolve;
  const clock = deps.clock ?? (() => new Date());
  let document: unknown;
  const services: ApiServices = {
    onboarding: new OnboardingService({
      store: deps.store,
      engine: deps.engine,
      clock,
      ...(deps.binding && { binding: deps.binding }),
    }),
    drift: new DriftService({
      store: deps.store,
      engine: deps.engine,
      clock,
      ...(deps.changeLog && { changeLog: deps.changeLog }),
      ...(deps.driftChecks && { drift: deps.driftChecks }),
    }),
    partners: new PartnerService({
      store: deps.store,
      clock,
      ...(deps.partnerLimits && { limits: deps.partnerLimits }),
    }),
    webhooks: deps.webhooks,
    m365AppId: deps.m365AppId ?? (async () => undefined),
    openapi: () => {
      document ??= buildOpenApiDocument(routes);
      return document;
    },
  };
  const idempotency = new IdempotentRequests({
    persistence: deps.idempotency ?? new MemoryIdempotencyLayer(),
    ...(deps.idempotencyWaitMs !== undefined && { waitMs: deps.idempotencyWaitMs }),
  });

  const dispatch = async (
    event: APIGatewayProxyEvent,
    context: ApiContext,
  ): Promise<APIGatewayProxyResult> => {
    const { match, input, principal, log } = context;
    if (match?.kind !== "found" || !input) throw new Error("dispatch without a validated route");
    const { route } = match;
    const run = async (): Promise<StoredResponse> =>
      serialize(
        await route.handle({
          // Only public routes run without one, and they do not read it.
          principal: principal!,
          params: input.params,
          query: input.query,
          body: input.body,
          headers: input.headers,
          event,
          log,
          services,
        }),
      );
    const key = input.headers["idempotency-key"];
    if (!route.idempotent || key === undefined || !principal?.partnerId) return run();
    const { response, replayed } = await idempotency.run(
      { scope: route.operationId, partnerId: principal.partnerId, key, body: input.body },
      context,
      run,
    );
    return replayed
      ? { ...response, headers: { ...response.headers, "idempotent-replayed": "true" } }
      : response;
  };

  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, ApiContext>({
    // API Gateway cuts at 29 s anyway; middy's early timeout would only race our own timeouts.
    timeoutEarlyInMillis: 0,
  })
    .use(
      requestLogger({
        logger,
        operation: (c) => {
          const m = (c as ApiContext).match;
          return m?.kind === "found" ? m.route.operationId : undefined;
        },
      }),
    )
    .use(responseHeaders())
    .use(problemResponses({ map: toProblem, logger: (c) => (c as ApiContext).log ?? logger }))
    .use(routeMatching(routes))
    .use(anonymousRateLimit(limiter))
    .use(authentication(authorize))
    .use(requestValidation())
    .handler(dispatch);

  // Middy decorates the context; a fresh object per call keeps requests apart when the local
  // runtime passes one context to many calls. The console's static files need no key and no
  // route table entry (they are not part of the API contract).
  return (event, context) =>
    isConsolePath(event.path)
      ? (limitedConsole(limiter, event) ?? consoleResponse(event))
      : handler(event, Object.create(context ?? null) as ApiContext);
}

function serialize(result: RouteResult): StoredResponse {
  if (result.text !== undefined) {
    return { statusCode: result.status, headers: { ...result.headers }, body: result.text };
  }
  if (result.status === 204 || result.body === undefined) {
    return { statusCode: result.status, headers: { ...result.headers }, body: "" };
  }
  return {
    statusCode: result.status,
    headers: { ...result.headers, "content-type": "application/json" },
    body: JSON.stringify(result.body),
  };
}

/**
 * Public routes (health, the consent callback) draw from their client address's bucket: they
 * cannot starve partners' limits, and one address cannot starve another's.
 */
function anonymousRateLimit(limiter: RateLimiter | undefined) {
  return {
    name: "anonymousRateLimit",
    before: (request: { context: Context; event: APIGatewayProxyEvent }) => {
      const match = (request.context as ApiContext).match;
      if (limiter && match?.kind === "found" && match.route.access === "public") {
        limiter.take(anonymousSubject(request.event.requestContext?.identity?.sourceIp));
      }
    },
  };
}

/** The console's files too: a 429 problem past the address's limit, else undefined. */
function limitedConsole(limiter: RateLimiter | undefined, event: APIGatewayProxyEvent) {
  try {
    limiter?.take(anonymousSubject(event.requestContext?.identity?.sourceIp));
    return undefined;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return Promise.resolve({
      statusCode: err.status,
      headers: { ...err.headers, "content-type": "application/problem+json", "cache-control": "no-store" },
      body: JSON.stringify(err.toProblem()),
    });
  }
}

/** Headers on every answer, problems included: nothing here may be cached by intermediaries. */
function responseHeaders() {
  const add = (request: {
    event: APIGatewayProxyEvent;
    response: APIGatewayProxyResult | null | undefined;
    context: Context;
  }) => {
    if (!request.response) return;
    const requestId = request.event.requestContext?.requestId ?? request.context.awsRequestId;
    request.response.headers = {
      ...request.response.headers,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...(requestId && { "x-request-id": requestId }),
    };
  };
  return { name: "responseHeaders", after: add, onError: add };
}

/** Domain and HTTP errors -> problems; undefined (a plain 500) for everything else. */
export function toProblem(error: unknown): MappedProblem | undefined {
  if (error instanceof HttpError) {
    return { status: error.status, problem: error.toProblem(), headers: error.headers };
  }
  const domain = (status: number, slug: string, title: string, detail: string) => ({
    status,
    problem: { type: problemType(slug), code: problemCode(slug), title, status, detail },
  });
  if (error instanceof TenantNotFoundError)
    return domain(404, "tenant-not-found", "Not found", error.message);
  if (error instanceof WebhookNotFoundError)
    return domain(404, "webhook-not-found", "Not found", error.message);
  if (error instanceof PartnerKeyNotFoundError) return domain(404, "not-found", "Not found", error.message);
  if (error instanceof ConflictError) return domain(409, "conflict", "Conflict", error.message);
  if (error instanceof InvalidCursorError) {
    return domain(400, "invalid-cursor", "Invalid cursor", "The cursor is not one this API issued.");
  }
  if (error instanceof WorkflowStartError) {
    // The tenant exists (failed, retryable); the engine refused or did not answer.
    return {
      ...domain(503, "workflow-unavailable", "Service Unavailable", `${error.message} (POST .../retry)`),
      headers: { "retry-after": "5" },
    };
  }
  if (error instanceof InvalidCorrectionError) {
    return {
      status: 400,
      problem: {
        ...domain(400, "validation-failed", "Invalid request", "The request is not valid; see errors.")
          .problem,
        errors: [{ pointer: `/body/${error.field}`, detail: error.message }],
      },
    };
  }
  if (error instanceof InvalidWebhookUrlError) {
    return {
      status: 400,
      problem: {
        ...domain(400, "validation-failed", "Invalid request", "The request is not valid; see errors.")
          .problem,
        errors: [{ pointer: "/body/url", detail: error.message }],
      },
    };
  }
  return undefined;
}
