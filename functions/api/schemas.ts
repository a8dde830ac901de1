/**
 * The API's wire formats as zod 4 schemas: they validate requests at the edge AND are the
 * source of the OpenAPI document (`openapi.ts`). Request schemas are registered in
 * `requestSchemas` (rendered with their input side: defaults optional), response schemas in
 * `responseSchemas` (rendered with their output side). Response objects are strict so that
 * an internal field can never leak unnoticed: the tests validate every response against them.
 * One module per resource under `schemas/`.
 */
// Evaluated in this order, which is the order of the document's components.
import "./schemas/common.ts";
import "./schemas/tenants.ts";
import "./schemas/partners.ts";
import "./schemas/webhooks.ts";
import "./schemas/meta.ts";

export * from "./schemas/common.ts";
export * from "./schemas/meta.ts";
export * from "./schemas/partners.ts";
export * from "./schemas/tenants.ts";
export * from "./schemas/webhooks.ts";
