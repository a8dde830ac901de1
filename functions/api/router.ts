/**
 * Route definitions: one object per operation carries its path, who may call it, the zod
 * schemas of its parameters, body and responses, and the business call. The middleware chain
 * (`app.ts`) matches, authorises and validates from these objects, and `openapi.ts` documents
 * them: the route table is the one source of both.
 */

import type { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyEvent } from "aws-lambda";
import type { z } from "zod";
import type { DriftService } from "../domain/drift-service.ts";
import type { OnboardingService } from "../domain/onboarding.ts";
import type { PartnerService } from "../domain/partners.ts";
import type { Principal, Role } from "../domain/store.ts";
import type { WebhookService } from "../domain/webhooks.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

type AnyObjectSchema = z.ZodObject;

/** Everything a route's business call may use; built once per API instance. */
export interface ApiServices {
  onboarding: OnboardingService;
  drift: DriftService;
  partners: PartnerService;
  webhooks: WebhookService | undefined;
  openapi: () => unknown;
  /** The multi-tenant Microsoft 365 app's client id; undefined when not configured. */
  m365AppId: () => Promise<string | undefined>;
}

export interface RouteInput<P, Q, B> {
  /** Undefined only on public routes. */
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  headers: Record<string, string>;
  event: APIGatewayProxyEvent;
  log: Logger;
  services: ApiServices;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A body that is not JSON (e.g. the consent page), sent as is; `headers` give its content-type. */
  text?: string;
}

export interface ResponseSpec {
  description: string;
  /** JSON body schema (output side); none for 204. */
  schema?: z.ZodType;
  /** A body that is not JSON: its media type (documented as a string). */
  contentType?: string;
  headers?: Record<string, string>;
}

interface RouteSpec<
  P extends AnyObjectSchema | undefined,
  Q extends AnyObjectSchema | undefined,
  B extends z.ZodType | undefined,
> {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI template, e.g. `/v1/tenants/{tenantId}`. */
  path: string;
  summary: string;
  description?: string;
  tag: "health" | "tenants" | "partners" | "webhooks" | "meta";
  /** `public`: no key; `any`: any valid key; else the roles allowed (others get 403). */
  access: "public" | "any" | readonly Role[];
  params?: P;
  query?: Q;
  body?: B;
  /** The body may be left out (the handler then gets undefined). */
  optionalBody?: boolean;
  /** Accepts `Idempotency-Key`. */
  idempotent?: boolean;
  responses: Record<number, ResponseSpec>;
  /** Problem statuses the operation itself can answer (validation, auth and 500 are added). */
  problems?: readonly number[];
  handle(
    input: RouteInput<
      P extends AnyObjectSchema ? z.output<P> : Record<string, never>,
      Q extends AnyObjectSchema ? z.output<Q> : Record<string, never>,
      B extends z.ZodType ? z.output<B> : undefined
    >,
  ): Promise<RouteResult>;
}

/** A route with its types erased, as the router and the document generator see it. */
export interface Route {
  operationId: string;
  method: HttpMethod;
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: "public" | "any" | readonly Role[];
  params?: AnyObjectSchema;
  query?: AnyObjectSchema;
  body?: z.ZodType;
  optionalBody?: boolean;
  idempotent?: boolean;
  responses: Record<number, ResponseSpec>;
  problems?: readonly number[];
  handle(input: RouteInput<unknown, unknown, unknown>): Promise<RouteResult>;
  /** Compiled from `path`. */
  matcher: RegExp;
  paramNames: string[];
}

export function defineRoute<
  P extends AnyObjectSchema | undefined = undefined,
  Q extends AnyObjectSchema | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): Route {
  const paramNames: string[] = [];
  const source = spec.path
    .replace(/[.*+?^$()|[\]\\]/g, "\\$&")
    .replace(/\{([A-Za-z]+)\}/g, (_, name: string) => {
      paramNames.push(name);
      return "([^/]+)";
    });
  return { ...(spec as unknown as Route), matcher: new RegExp(`^${source}$`), paramNames };
}

export type RouteMatch =
  | { kind: "found"; route: Route; params: Record<string, string> }
  | { kind: "method-not-allowed"; allowed: HttpMethod[] }
  | { kind: "not-found" };

/** Finds the route for a method and a concrete path (trailing slash ignored). */
export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const normalized = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const allowed: HttpMethod[] = [];
  for (const route of routes) {
    const m = route.matcher.exec(normalized);
    if (!m) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, i) => {
      params[name] = safeDecode(m[i + 1] ?? "");
    });
    return { kind: "found", route, params };
  }
  return allowed.length > 0 ? { kind: "method-not-allowed", allowed } : { kind: "not-found" };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Left encoded: parameter validation rejects it.
    return segment;
  }
}
