/** The routes about the API itself: liveness, this OpenAPI document, the key in use, the error catalogue. */

import { ERROR_CATALOGUE_PATH, errorCatalogueEntries } from "../../domain/error-catalogue.ts";
import { defineRoute, type Route } from "../router.ts";
import { ErrorCatalogueSchema, HealthSchema, KeyIdentitySchema, OpenApiDocumentSchema } from "../schemas.ts";
import { partnerOf } from "./resources.ts";

export const metaRoutes: readonly Route[] = [
  defineRoute({
    operationId: "getHealth",
    method: "GET",
    path: "/health",
    tag: "health",
    summary: "Liveness check",
    access: "public",
    responses: { 200: { description: "The API is up.", schema: HealthSchema } },
    handle: async () => ({ status: 200, body: { status: "ok" } }),
  }),
  defineRoute({
    operationId: "getOpenApiDocument",
    method: "GET",
    path: "/v1/openapi.json",
    tag: "meta",
    summary: "This document",
    access: "any",
    responses: {
      200: { description: "The OpenAPI 3.1 document of this API.", schema: OpenApiDocumentSchema },
    },
    handle: async ({ services }) => ({ status: 200, body: services.openapi() }),
  }),
  defineRoute({
    operationId: "getKeyIdentity",
    method: "GET",
    path: "/v1/me",
    tag: "meta",
    summary: "The role of the key in use",
    description: "`ops`, or `partner` with its `partnerId`: a client shows which kind of key it uses.",
    access: "any",
    responses: { 200: { description: "The key's role.", schema: KeyIdentitySchema } },
    handle: async ({ principal }) => ({
      status: 200,
      body: principal.role === "ops" ? { role: "ops" } : { role: "partner", partnerId: partnerOf(principal) },
    }),
  }),
  defineRoute({
    operationId: "getErrorCatalogue",
    method: "GET",
    path: ERROR_CATALOGUE_PATH,
    tag: "meta",
    summary: "Every error code, with its meaning and what to do",
    description:
      "The catalogue that problem types (`/v1/errors#<CODE>`), tenant and step `error.code`s and webhook delivery errors refer to.",
    access: "any",
    responses: { 200: { description: "The error catalogue.", schema: ErrorCatalogueSchema } },
    handle: async () => ({ status: 200, body: { items: errorCatalogueEntries() } }),
  }),
];
