/**
 * The API's wire formats as zod 4 schemas: they validate requests at the edge AND are the
 * source of the OpenAPI document (`openapi.ts`). Request schemas are registered in
 * `requestSchemas` (rendered with their input side: defaults optional), response schemas in
 * `responseSchemas` (rendered with their output side). Response objects are strict so that
 * an internal field can never leak unnoticed: the tests validate every response against them.
 */
import * as z from "zod";
import { CHANGE_ACTORS, REQUESTERS } from "../domain/change-log.ts";
import { APPROVAL, ON_DRIFT } from "../domain/drift.ts";
import { nameProblem, normalizeName } from "../domain/names.ts";
import {
  ALL_STEP_NAMES,
  EVENT_TYPES,
  HISTORY_ONLY_EVENT_TYPES,
  RUN_STEP_NAMES,
  STEP_NAMES,
  STEP_STATUSES,
  TENANT_STATUSES,
} from "../domain/tenant.ts";
import { DELIVERY_STATUSES } from "../domain/webhooks.ts";

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

/**
 * A name the service stores and shows (partner, group): taken in NFC, then held to the one
 * rule for names (functions/domain/names.ts), which keeps a name from displaying as another.
 */
const StoredName = (max: number) =>
  z
    .string()
    .overwrite(normalizeName)
    .min(1)
    .max(max)
    .check((ctx) => {
      const problem = nameProblem(ctx.value);
      if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
    });
const PRINTABLE_NAME_ERROR = "Must not contain control or invisible formatting characters (bidi, zero-width)";
const NO_CONTROL_OR_FORMAT = /^[^\p{Cc}\p{Cf}]*$/u;

export const GroupSpec = z.strictObject({
  name: StoredName(64),
  primarySmtpAddress: SmtpAddress,
  members: z.array(SmtpAddress).max(10_000),
  owners: z.array(SmtpAddress).min(1).max(100).optional(),
});

export const CustomerName = z
  .string()
  .regex(/^[a-z0-9-]{1,63}$/, "Must be 1-63 characters of a-z, 0-9 and -");

/** The EU and US groups: two distinct groups in Exchange, so names and addresses must differ. */
export const GroupPair = z.strictObject({ eu: GroupSpec, us: GroupSpec }).superRefine((groups, ctx) => {
  if (groups.eu.name.toLowerCase() === groups.us.name.toLowerCase()) {
    ctx.addIssue({ code: "custom", path: ["us", "name"], message: "Must differ from the EU group's name" });
  }
  if (groups.eu.primarySmtpAddress.toLowerCase() === groups.us.primarySmtpAddress.toLowerCase()) {
    ctx.addIssue({
      code: "custom",
      path: ["us", "primarySmtpAddress"],
      message: "Must differ from the EU group's address",
    });
  }
});

/** Body of `POST /v1/tenants`. `groups` is required for `split` and refused otherwise. */
export const OnboardingRequestBody = z
  .strictObject({
    tenantId: Guid,
    customerName: CustomerName,
    region: z.enum(["us", "eu", "split"]),
    outboundGateway: z.boolean().default(false),
    ndrAddress: SmtpAddress,
    groups: GroupPair.optional(),
    onDrift: z.enum(ON_DRIFT).optional().meta({
      description:
        "What a drift check that finds drift does: `report` (default) only reports it; `remediate` also starts an onboarding run to repair it (a few times a day at most).",
    }),
    approval: z.enum(APPROVAL).optional().meta({
      description:
        "`required`: onboarding stops after check-access in `awaiting_approval` with the `plan` of its writes, and applies it once approved (`POST .../approve`). Default `none`.",
    }),
  })
  .superRefine((req, ctx) => {
    if (req.region === "split" && !req.groups) {
      ctx.addIssue({ code: "custom", path: ["groups"], message: "Required when region is split" });
    }
    if (req.region !== "split" && req.groups) {
      ctx.addIssue({ code: "custom", path: ["groups"], message: "Only allowed when region is split" });
    }
  })
  // The same rule for JSON Schema readers (zod cannot derive it from the refinement).
  .meta({
    allOf: [
      {
        if: { properties: { region: { const: "split" } }, required: ["region"] },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keywords
        then: { required: ["groups"] },
        else: { not: { required: ["groups"] } },
      },
    ],
  } as Record<string, unknown>);
requestSchemas.add(OnboardingRequestBody, { id: "OnboardingRequest" });

/**
 * Body of `PATCH /v1/tenants/{tenantId}`: at least one field, each as on POST. `groups` (both,
 * replaced as a whole) only for a split tenant; that is checked against the tenant (400).
 */
export const TenantPatchBody = z
  .strictObject({
    ndrAddress: SmtpAddress.optional(),
    groups: GroupPair.optional(),
    outboundGateway: z.boolean().optional(),
    customerName: CustomerName.optional(),
    onDrift: z.enum(ON_DRIFT).optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), "At least one field is required")
  .meta({ minProperties: 1 } as Record<string, unknown>);
requestSchemas.add(TenantPatchBody, { id: "TenantPatchRequest" });

/**
 * Optional body of `POST /v1/tenants/{tenantId}/retry`: ops bind a tenant by hand to the
 * partner whose claim it is (`bindTenant: true` with that `partnerId`), as a customer's consent
 * through that partner's consentUrl would.
 */
export const TenantRetryBody = z.strictObject({
  bindTenant: z.literal(true),
  partnerId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a partner id"),
});
requestSchemas.add(TenantRetryBody, { id: "TenantRetryRequest" });

/** What Entra sends the admin back with (other parameters Entra may add are ignored). */
export const ConsentCallbackQuery = z.object({
  admin_consent: z.string().max(16).optional(),
  tenant: z.string().max(128).optional(),
  state: z.string().max(1024).optional(),
  /** The consent page's Continue token. */
  continue: z.string().max(128).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
  /** The consent page's least-privilege choice (`setup` or `script`), read on Continue only. */
  least_privilege: z.enum(["setup", "script"]).optional(),
});

export const PartnerCreateBody = z.strictObject({
  name: StoredName(200),
});
requestSchemas.add(PartnerCreateBody, { id: "PartnerCreateRequest" });

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

// ---- parameters ----------------------------------------------------------------------------

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

export const TenantIdParams = z.strictObject({
  tenantId: Guid.meta({ description: "The Entra tenant id (a GUID); anything else is a 400." }),
});
export const PartnerIdParams = z.strictObject({
  partnerId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a partner id"),
});
export const PartnerKeyParams = PartnerIdParams.extend({
  keyId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a key id"),
});
export const DeliveryIdParams = z.strictObject({
  deliveryId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a delivery id"),
});

export const TenantListQuery = z.strictObject({
  status: z.enum(TENANT_STATUSES).optional(),
  limit: Limit,
  cursor: Cursor.optional(),
  partnerId: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .meta({ description: "Ops: one partner's tenants only. A partner may only name itself." }),
});
export const PageQuery = z.strictObject({ limit: Limit, cursor: Cursor.optional() });
export const DeliveryListQuery = z.strictObject({
  limit: Limit,
  cursor: Cursor.optional(),
  tenantId: Guid.optional(),
});

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

// ---- responses -----------------------------------------------------------------------------

const Timestamp = z.iso.datetime({ offset: true });

export const ErrorInfoSchema = z.strictObject({
  code: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/)
    .meta({ description: "An entry of the error catalogue (`x-error-codes`, `GET /v1/errors`)." }),
  message: z.string(),
});
responseSchemas.add(ErrorInfoSchema, { id: "Error" });

export const StepSchema = z.strictObject({
  name: z.enum(ALL_STEP_NAMES),
  status: z.enum(STEP_STATUSES),
  attempts: z.int().min(0),
  startedAt: Timestamp.optional(),
  finishedAt: Timestamp.optional(),
  error: ErrorInfoSchema.optional(),
  progress: z
    .string()
    .optional()
    .meta({ description: 'Where a long step stands while it runs, e.g. "members 4,000 of 10,000".' }),
  waitingUntil: Timestamp.optional().meta({
    description:
      "While the workflow waits to try the step again because only time helps (Exchange applying Enable-OrganizationCustomization, up to 48 hours): until when it keeps trying at the latest.",
  }),
});
responseSchemas.add(StepSchema, { id: "Step" });

/** JSON values as cmdlet parameters and compared fields carry them. */
const JsonValue = z.unknown().meta({ description: "Any JSON value." });

export const DifferenceSchema = z.strictObject({
  step: z.enum(STEP_NAMES),
  object: z
    .string()
    .meta({ description: 'The object, e.g. `journal rule "Journal Messages to CloudflareArea 1"`.' }),
  field: z
    .string()
    .meta({ description: "The field, e.g. `enabled`, `smartHosts`; `exists` for a missing object." }),
  expected: JsonValue,
  actual: JsonValue,
});
responseSchemas.add(DifferenceSchema, { id: "Difference" });

export const DriftSchema = z.strictObject({
  checkedAt: Timestamp,
  inSync: z.boolean(),
  differences: z.array(DifferenceSchema),
  moreDifferences: z.int().min(1).optional().meta({ description: "Differences found beyond the 50 listed." }),
  remediation: z.enum(["started", "daily_limit_reached"]).optional().meta({
    description:
      "With `onDrift: remediate`: an onboarding run was started to repair the drift, or the tenant had its remediations for the day and the drift is only reported.",
  }),
});
responseSchemas.add(DriftSchema, { id: "Drift" });

/** `GET .../drift`: the latest check; `checkedAt` and `inSync` null before the first one. */
export const DriftReportSchema = DriftSchema.extend({
  checkedAt: Timestamp.nullable(),
  inSync: z.boolean().nullable(),
});
responseSchemas.add(DriftReportSchema, { id: "DriftReport" });

export const PlannedWriteSchema = z.strictObject({
  step: z.enum(STEP_NAMES),
  cmdlet: z.string(),
  parameters: z.record(z.string(), JsonValue),
  reason: z.string(),
});
responseSchemas.add(PlannedWriteSchema, { id: "PlannedWrite" });

export const ChangeSchema = z.strictObject({
  changeId: z.string(),
  at: Timestamp,
  run: z.int().min(0),
  step: z.enum(ALL_STEP_NAMES),
  cmdlet: z.string(),
  parameters: z.record(z.string(), JsonValue).meta({
    description: "The cmdlet's parameters, without secrets; member lists as `{count, first, sha256}`.",
  }),
  outcome: z.enum(["ok", "error"]),
  errorCode: z.string().optional(),
  requestedBy: z.enum(REQUESTERS),
  actor: z.enum(CHANGE_ACTORS).meta({
    description:
      "Whose access made the write: `service` (the app) or `customer-admin` (the customer's admin, through their own sign-in at consent, setting up the app's least-privilege role group).",
  }),
});
responseSchemas.add(ChangeSchema, { id: "Change" });

export const ChangePageSchema = z.strictObject({
  items: z.array(ChangeSchema),
  nextCursor: z.string().optional(),
});
responseSchemas.add(ChangePageSchema, { id: "ChangePage" });

export const TenantSchema = z.strictObject({
  tenantId: z.guid(),
  partnerId: z.string(),
  customerName: z.string(),
  region: z.enum(["us", "eu", "split"]),
  outboundGateway: z.boolean(),
  ndrAddress: z.string(),
  status: z.enum(TENANT_STATUSES),
  steps: z.array(StepSchema),
  consentUrl: z.url().optional(),
  missingPermissions: z
    .array(
      z.strictObject({
        cmdlet: z.string().meta({ description: "An Exchange cmdlet the app may not run in the tenant." }),
        role: z.string().meta({ description: "The Exchange management role that holds it." }),
      }),
    )
    .optional()
    .meta({
      description:
        "In `awaiting_permissions`: what the app may not run. GET .../permissions-script gives the PowerShell that grants it.",
    }),
  ndrAddressKept: z.boolean().optional().meta({
    description:
      "After offboarding: the journal report NDR address was empty before onboarding, Exchange refused to clear it, and the address onboarding set was left in place.",
  }),
  onDrift: z
    .enum(ON_DRIFT)
    .optional()
    .meta({ description: "As set at creation or by PATCH; absent: `report`." }),
  approval: z.enum(APPROVAL).optional().meta({ description: "As set at creation; absent: `none`." }),
  plan: z.array(PlannedWriteSchema).optional().meta({
    description: "While `awaiting_approval`: the writes onboarding would make, in order, and why each.",
  }),
  drift: DriftSchema.optional().meta({ description: "The latest drift check." }),
  error: ErrorInfoSchema.optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
responseSchemas.add(TenantSchema, { id: "Tenant" });

export const TenantPageSchema = z.strictObject({
  items: z.array(TenantSchema),
  nextCursor: z.string().optional(),
});
responseSchemas.add(TenantPageSchema, { id: "TenantPage" });

export const TenantEventSchema = z.strictObject({
  id: z.string(),
  type: z.enum([...EVENT_TYPES, ...HISTORY_ONLY_EVENT_TYPES]).meta({
    description:
      "A webhook event type, or `tenant.updated` (a PATCH; history only, never sent as a webhook).",
  }),
  timestamp: Timestamp,
  data: z.strictObject({
    tenantId: z.guid(),
    status: z.enum(TENANT_STATUSES),
    sequence: z.int().min(1),
    step: z.enum(RUN_STEP_NAMES).optional(),
    error: ErrorInfoSchema.optional(),
    ndrAddressKept: z.boolean().optional(),
    drift: DriftSchema.optional(),
  }),
});
responseSchemas.add(TenantEventSchema, { id: "TenantEvent" });

/** The body of a webhook delivery: the event without its id (that is the `webhook-id` header). */
export const WebhookPayloadSchema = TenantEventSchema.omit({ id: true }).extend({
  type: z.enum(EVENT_TYPES),
});
responseSchemas.add(WebhookPayloadSchema, { id: "WebhookPayload" });

export const TenantEventPageSchema = z.strictObject({
  items: z.array(TenantEventSchema),
  nextCursor: z.string().optional(),
});
responseSchemas.add(TenantEventPageSchema, { id: "TenantEventPage" });

export const PartnerSchema = z.strictObject({
  partnerId: z.string(),
  name: z.string(),
  createdAt: Timestamp,
});
responseSchemas.add(PartnerSchema, { id: "Partner" });

export const PartnerCreatedSchema = z.strictObject({
  partnerId: z.string(),
  name: z.string(),
  createdAt: Timestamp,
  apiKey: z.string().meta({ description: "Shown once; only its SHA-256 is stored." }),
  keyId: z.string().meta({ description: "The key's id, to revoke it (`DELETE .../keys/{keyId}`)." }),
});
responseSchemas.add(PartnerCreatedSchema, { id: "PartnerCreated" });

export const PartnerKeySchema = z.strictObject({ keyId: z.string(), createdAt: Timestamp });
responseSchemas.add(PartnerKeySchema, { id: "PartnerKey" });

export const PartnerKeyCreatedSchema = z.strictObject({
  keyId: z.string(),
  apiKey: z.string().meta({ description: "Shown once; only its SHA-256 is stored." }),
  createdAt: Timestamp,
});
responseSchemas.add(PartnerKeyCreatedSchema, { id: "PartnerKeyCreated" });

export const PartnerKeyListSchema = z.strictObject({ items: z.array(PartnerKeySchema) });
responseSchemas.add(PartnerKeyListSchema, { id: "PartnerKeyList" });

export const PartnerPageSchema = z.strictObject({
  items: z.array(PartnerSchema),
  nextCursor: z.string().optional(),
});
responseSchemas.add(PartnerPageSchema, { id: "PartnerPage" });

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
