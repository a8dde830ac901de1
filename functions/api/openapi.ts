/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas that validate
 * the requests (`z.toJSONSchema`), so that the document cannot drift from the code. Served at
 * `GET /v1/openapi.json`.
 */
import * as z from "zod";
import { ERROR_CATALOGUE_PATH, errorCatalogueEntries } from "../domain/error-catalogue.ts";
import type { Route } from "./router.ts";
import { IdempotencyHeaders, requestSchemas, responseSchemas } from "./schemas.ts";

type JsonSchema = Record<string, unknown>;

const COMPONENT_REF = (id: string) => `#/components/schemas/${id}`;

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request: `VALIDATION_FAILED` (see `errors`), `MALFORMED_JSON` or `INVALID_CURSOR`.",
  401: "Missing or unknown API key (`UNAUTHORIZED`).",
  403: "The key's role may not use this operation (`FORBIDDEN`).",
  404: "No such resource, or one that belongs to another partner (`NOT_FOUND`, `TENANT_NOT_FOUND`, `WEBHOOK_NOT_FOUND`): the two are indistinguishable.",
  409: "Conflict with the resource's state (`CONFLICT`), or a request with the same Idempotency-Key still in progress (`IDEMPOTENCY_IN_PROGRESS`, with Retry-After).",
  413: "The body is larger than 1 MB (`PAYLOAD_TOO_LARGE`).",
  415: "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`).",
  422: "The Idempotency-Key was used with a different body (`IDEMPOTENCY_KEY_REUSED`).",
  429: "The caller's request rate limit is exceeded (`RATE_LIMITED`, with Retry-After); each partner has its own.",
  500: "Unexpected error (`INTERNAL_ERROR`); no detail is given.",
  501: "Not configured on this deployment (`NOT_IMPLEMENTED`).",
  503: "The workflow could not be started (`WORKFLOW_UNAVAILABLE`, with Retry-After): the tenant is `failed` (or `offboarding_failed`); retry it.",
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const registry = io === "input" ? requestSchemas : responseSchemas;
  const id = registry.get(schema)?.id;
  if (id) return { $ref: COMPONENT_REF(id) };
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    target: "draft-2020-12",
    unrepresentable: "any",
  });
  return rest;
}

function componentSchemas(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [registry, io] of [
    [requestSchemas, "input"],
    [responseSchemas, "output"],
  ] as const) {
    const { schemas } = z.toJSONSchema(registry, {
      io,
      target: "draft-2020-12",
      uri: COMPONENT_REF,
      unrepresentable: "any",
    });
    for (const [id, schema] of Object.entries(schemas)) {
      const { $schema: _, $id: __, id: ___, ...rest } = schema as JsonSchema;
      out[id] = rest;
    }
  }
  return out;
}

function parameters(route: Route): JsonSchema[] {
  const out: JsonSchema[] = [];
  const add = (object: z.ZodObject | undefined, where: "path" | "query" | "header") => {
    if (!object) return;
    for (const [name, field] of Object.entries(object.shape)) {
      const schema = field as z.ZodType;
      const { description, ...fieldSchema } = jsonSchema(schema, "output");
      out.push({
        name: where === "header" ? headerName(name) : name,
        in: where,
        required: where === "path" || !schema.safeParse(undefined).success,
        ...(description !== undefined && { description }),
        schema: fieldSchema,
      });
    }
  };
  add(route.params, "path");
  add(route.query, "query");
  if (route.idempotent) add(IdempotencyHeaders, "header");
  return out;
}

function headerName(lower: string): string {
  return lower.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

function problemStatuses(route: Route): number[] {
  const statuses = new Set<number>(route.problems ?? []);
  if (route.params || route.query || route.body || route.idempotent) statuses.add(400);
  if (route.access !== "public") statuses.add(401);
  if (Array.isArray(route.access) && route.access.length < 2) statuses.add(403);
  if (route.body) {
    statuses.add(413);
    statuses.add(415);
  }
  statuses.add(429);
  statuses.add(500);
  return [...statuses].sort((a, b) => a - b);
}

function operation(route: Route): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = {
      description: spec.description,
      ...(spec.headers && {
        headers: Object.fromEntries(
          Object.entries(spec.headers).map(([name, description]) => [
            name,
            { description, schema: { type: "string" } },
          ]),
        ),
      }),
      ...(spec.schema && { content: { "application/json": { schema: jsonSchema(spec.schema, "output") } } }),
      ...(spec.contentType && { content: { [spec.contentType]: { schema: { type: "string" } } } }),
    };
  }
  for (const status of problemStatuses(route)) {
    responses[String(status)] = { $ref: `#/components/responses/Problem${status}` };
  }
  const params = parameters(route);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description && { description: route.description }),
    tags: [route.tag],
    ...(route.access === "public" ? { security: [] } : {}),
    ...(params.length > 0 && { parameters: params }),
    ...(route.body && {
      requestBody: {
        required: true,
        content: { "application/json": { schema: jsonSchema(route.body, "input") } },
      },
    }),
    ...(route.access !== "public" && route.access !== "any" && { "x-roles": route.access }),
    responses,
  };
}

/** Builds the OpenAPI 3.1 document for the given routes. */
export function buildOpenApiDocument(
  routes: readonly Route[],
  options: { serverUrl?: string } = {},
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation(route);
  }
  const problemResponses: Record<string, JsonSchema> = {};
  for (const [status, description] of Object.entries(PROBLEM_DESCRIPTIONS)) {
    problemResponses[`Problem${status}`] = {
      description,
      content: { "application/problem+json": { schema: { $ref: COMPONENT_REF("Problem") } } },
    };
  }
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "Journal onboarding API",
      version: "1.0.0",
      description: `Onboards Microsoft 365 tenants to an email-security provider's journaling service. Errors are RFC 9457 problems: \`type\` is \`${ERROR_CATALOGUE_PATH}#<CODE>\` (under the API's base path: \`/prod\` in AWS) and \`code\` the code; every code a tenant, a step, a webhook delivery or a problem can carry is in \`x-error-codes\` and at \`GET ${ERROR_CATALOGUE_PATH}\`.`,
    },
    ...(options.serverUrl && { servers: [{ url: options.serverUrl }] }),
    security: [{ apiKey: [] }],
    tags: [
      { name: "tenants", description: "Onboarding and offboarding of customer tenants." },
      { name: "partners", description: "Partner administration (ops)." },
      { name: "webhooks", description: "The partner's webhook endpoint and its deliveries." },
      { name: "health" },
      { name: "meta" },
    ],
    paths,
    "x-error-codes": errorCatalogueEntries(),
    webhooks: {
      tenantEvent: {
        post: {
          operationId: "tenantEvent",
          tags: ["webhooks"],
          summary: "A tenant event, POSTed to the partner's endpoint (Standard Webhooks)",
          description:
            "Sent for every event type the endpoint subscribes to, per tenant in `sequence` order, at least once. Verify `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the endpoint's `whsec_` secret) with any Standard Webhooks library. Any 2xx acknowledges; anything else, or no answer within 15 s, is retried with backoff (429/503 `Retry-After` honoured); 410 disables the endpoint.",
          security: [],
          parameters: [
            {
              name: "webhook-id",
              in: "header",
              required: true,
              description: "The event id: the same on every retry and replay.",
              schema: { type: "string" },
            },
            {
              name: "webhook-timestamp",
              in: "header",
              required: true,
              description: "Seconds since the epoch.",
              schema: { type: "string" },
            },
            {
              name: "webhook-signature",
              in: "header",
              required: true,
              description: "Space-separated `v1,<base64>` signatures (two during a secret rotation).",
              schema: { type: "string" },
            },
          ],
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: COMPONENT_REF("WebhookPayload") } } },
          },
          responses: { "2XX": { description: "Received." } },
        },
      },
    },
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "`Authorization: Bearer <api key>`: a partner key (`jok_...`) or the ops key.",
        },
      },
      schemas: componentSchemas(),
      responses: problemResponses,
    },
  };
}
