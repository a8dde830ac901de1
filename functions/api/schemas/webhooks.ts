/** The partner's webhook endpoint and its deliveries: request, parameters and resources. */
import * as z from "zod";
import { EVENT_TYPES } from "../../domain/tenant.ts";
import { DELIVERY_STATUSES } from "../../domain/webhooks.ts";
import { Cursor, ErrorInfoSchema, Guid, Limit, requestSchemas, responseSchemas } from "./common.ts";
import { NO_CONTROL_OR_FORMAT, PRINTABLE_NAME_ERROR, Timestamp } from "./fields.ts";

export const WebhookPutBody = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: "Must be an http(s) URL" })
    .max(2048)
    .refine((u) => NO_CONTROL_OR_FORMAT.test(u), PRINTABLE_NAME_ERROR),
  events: z
    .array(z.enum(EVENT_TYPES))
    .min(1)
    .refine((a) => new Set(a).size === a.length, "Event types must be unique")
    .optional(),
  rotateSecret: z
    .boolean()
    .optional()
    .meta({ description: "Issue a new secret (returned once); the old one keeps signing for 24 hours." }),
});
requestSchemas.add(WebhookPutBody, { id: "WebhookEndpointRequest" });

export const DeliveryIdParams = z.strictObject({
  deliveryId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a delivery id"),
});
export const DeliveryListQuery = z.strictObject({
  limit: Limit,
  cursor: Cursor.optional(),
  tenantId: Guid.optional(),
});

export const WebhookEndpointSchema = z.strictObject({
  url: z.string(),
  events: z.array(z.enum(EVENT_TYPES)),
  secret: z
    .string()
    .regex(/^whsec_/)
    .optional()
    .meta({ description: "Only when the secret was created or rotated by this request." }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  disabledAt: Timestamp.optional().meta({
    description: "Set when the endpoint answered 410 Gone; a PUT enables it.",
  }),
  disabledReason: z.string().optional(),
});
responseSchemas.add(WebhookEndpointSchema, { id: "WebhookEndpoint" });

export const WebhookDeliverySchema = z.strictObject({
  deliveryId: z.string(),
  eventId: z.string(),
  partnerId: z.string(),
  tenantId: z.guid(),
  type: z.enum(EVENT_TYPES),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.int().min(0),
  createdAt: Timestamp,
  lastAttemptAt: Timestamp.optional(),
  nextAttemptAt: Timestamp.optional(),
  lastResponseStatus: z.int().optional(),
  error: ErrorInfoSchema.optional(),
  sequence: z.int().min(1).optional(),
  replays: z.int().min(0).optional(),
  attemptLog: z
    .array(
      z.strictObject({
        at: Timestamp,
        latencyMs: z.number().min(0),
        responseStatus: z.int().optional(),
        error: ErrorInfoSchema.optional(),
      }),
    )
    .optional()
    .meta({ description: "The newest attempts (at most 50), oldest first." }),
});
responseSchemas.add(WebhookDeliverySchema, { id: "WebhookDelivery" });

export const WebhookDeliveryPageSchema = z.strictObject({
  items: z.array(WebhookDeliverySchema),
  nextCursor: z.string().optional(),
});
responseSchemas.add(WebhookDeliveryPageSchema, { id: "WebhookDeliveryPage" });
