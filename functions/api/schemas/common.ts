/**
 * The registries the OpenAPI document is built from, and the fields, parameters and error
 * shape that every resource uses.
 */
import * as z from "zod";

export const requestSchemas = z.registry<{ id: string; description?: string }>();
export const responseSchemas = z.registry<{ id: string; description?: string }>();

/** RFC 5321 dot-atom addresses (no quoted local parts, no IP literals): what Exchange accepts. */
const SMTP_ADDRESS =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export const SmtpAddress = z
  .email({ pattern: SMTP_ADDRESS, error: "Must be a valid SMTP address" })
  .max(254)
  .refine((s) => s.indexOf("@") <= 64, "The local part of an SMTP address is at most 64 characters");

/** An Entra tenant id; normalised to lower case so that one tenant has one id. */
export const Guid = z.guid({ error: "Must be a GUID" }).toLowerCase();

/** Query `limit`: digits only (no `1e1`, no blanks), 1-100, default 20. */
export const Limit = z
  .string()
  .regex(/^[0-9]{1,3}$/, "Must be an integer from 1 to 100")
  .transform(Number)
  .pipe(z.number().int().min(1, "Must be at least 1").max(100, "Must be at most 100"))
  .default(20)
  .meta({ description: "Page size, 1-100." });

export const Cursor = z
  .string()
  .min(1)
  .max(2048)
  .meta({ description: "The `nextCursor` of the previous page, as returned." });

export const PageQuery = z.strictObject({ limit: Limit, cursor: Cursor.optional() });

export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, "Must be 1-255 visible ASCII characters")
    .optional()
    .meta({
      description:
        "Makes a retried POST return the first response (for 24 hours); the same key with a different body is a 422.",
    }),
});

export const ErrorInfoSchema = z.strictObject({
  code: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/)
    .meta({ description: "An entry of the error catalogue (`x-error-codes`, `GET /v1/errors`)." }),
  message: z.string(),
});
responseSchemas.add(ErrorInfoSchema, { id: "Error" });
