/** The tenant: its requests (POST, PATCH, retry, the consent callback), parameters and resources. */
import * as z from "zod";
import { CHANGE_ACTORS, REQUESTERS } from "../../domain/change-log.ts";
import { APPROVAL, ON_DRIFT } from "../../domain/drift.ts";
import {
  ALL_STEP_NAMES,
  EVENT_TYPES,
  HISTORY_ONLY_EVENT_TYPES,
  RUN_STEP_NAMES,
  STEP_NAMES,
  STEP_STATUSES,
  TENANT_STATUSES,
} from "../../domain/tenant.ts";
import {
  Cursor,
  ErrorInfoSchema,
  Guid,
  Limit,
  requestSchemas,
  responseSchemas,
  SmtpAddress,
} from "./common.ts";
import { JsonValue, StoredName, Timestamp } from "./fields.ts";

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

export const TenantIdParams = z.strictObject({
  tenantId: Guid.meta({ description: "The Entra tenant id (a GUID); anything else is a 400." }),
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
  consentUrl: z.url().optional().meta({
    description:
      "Your own link for the customer's admin, new on every read (valid 7 days): in `awaiting_consent`, the admin consent that binds the tenant to you; in `awaiting_permissions`, the page where the admin sets the app's least privilege up with their sign-in (then the tenant is retried).",
  }),
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
        "In `awaiting_permissions`: what the app may not run. GET .../permissions-script gives the PowerShell that grants it; the customer's admin can instead use `consentUrl` (their sign-in).",
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
