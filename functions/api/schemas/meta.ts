/** The API about itself: health, the key in use, problem details, this document, the error catalogue. */
import * as z from "zod";
import { responseSchemas } from "./common.ts";

export const HealthSchema = z.strictObject({ status: z.literal("ok") });
responseSchemas.add(HealthSchema, { id: "Health" });

/** Who the key in use is: what a client (the console) shows without probing an ops-only route. */
export const KeyIdentitySchema = z.strictObject({
  role: z.enum(["ops", "partner"]),
  partnerId: z.string().optional().meta({ description: "Set for a partner key: the partner it belongs to." }),
});
responseSchemas.add(KeyIdentitySchema, { id: "KeyIdentity" });

/** RFC 9457 problem details, with `errors` for field problems. */
export const ProblemSchema = z
  .object({
    type: z.string().meta({
      description:
        "`<base path>/v1/errors#<CODE>`: the code's entry in the error catalogue, under the API's base path (`/prod` in AWS, none locally).",
    }),
    code: z
      .string()
      .optional()
      .meta({ description: "The error catalogue's code (`GET /v1/errors`, `x-error-codes`)." }),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().optional(),
    errors: z
      .array(
        z.strictObject({
          pointer: z
            .string()
            .meta({ description: "JSON Pointer: /body/..., /query/..., /path/..., /header/..." }),
          detail: z.string(),
        }),
      )
      .optional(),
  })
  .meta({ description: "RFC 9457 problem details (application/problem+json)." });
responseSchemas.add(ProblemSchema, { id: "Problem" });

export const OpenApiDocumentSchema = z
  .object({ openapi: z.string(), info: z.object({}).loose(), paths: z.object({}).loose() })
  .loose();
responseSchemas.add(OpenApiDocumentSchema, { id: "OpenApiDocument" });

export const ErrorCatalogueSchema = z.strictObject({
  items: z.array(
    z.strictObject({
      code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
      where: z.enum(["tenant", "webhook-delivery", "api"]),
      status: z.int().optional().meta({ description: "HTTP status, for API problems." }),
      retry: z.enum(["yes", "after-fix", "no"]).meta({
        description: "Whether trying again helps: as is (`yes`), once the cause is fixed, or not at all.",
      }),
      meaning: z.string(),
      action: z.string().meta({ description: "What to do about it." }),
    }),
  ),
});
responseSchemas.add(ErrorCatalogueSchema, { id: "ErrorCatalogue" });
