/**
 * Every error the product raises on purpose. The `name` of each class is a contract:
 * Step Functions Retry/Catch rules match on it (see `workflows/`), the API maps it to a
 * status code, and the tenant's `error.code` is derived from it. Rename nothing here
 * without changing those in the same commit.
 */

/** Names that the workflow definition matches on. Keep in sync with the classes below. */
export const ErrorName = {
  Throttled: "ThrottledError",
  Transient: "TransientError",
  TenantBusy: "TenantBusyError",
  NotFound: "NotFoundError",
  ConsentRequired: "ConsentRequiredError",
  PermissionMissing: "PermissionMissingError",
  AccessDenied: "AccessDeniedError",
  InvalidRequest: "InvalidRequestError",
  DehydratedOrganization: "DehydratedOrganizationError",
  ValidationPending: "ConnectorValidationPendingError",
  ValidationFailed: "ConnectorValidationFailedError",
  Hydrating: "OrganizationHydratingError",
  AmbiguousIdentity: "AmbiguousIdentityError",
  Configuration: "M365ConfigurationError",
  InvalidNdrRecipient: "InvalidNdrRecipientError",
  InvalidGroupMember: "InvalidGroupMemberError",
  StateLimit: "StateLimitError",
  Conflict: "ConflictError",
  PlanStale: "PlanStaleError",
  StepFailed: "StepFailedError",
} as const;
export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

/** Errors worth retrying with backoff (in-task first, then the workflow's Retry policy). */
export const RETRYABLE_ERRORS: readonly ErrorName[] = [ErrorName.Throttled, ErrorName.Transient];

/** Base class: a stable `name`, an UPPER_SNAKE_CASE `code` for people and a `cause`. */
export abstract class OnboardingError extends Error {
  abstract readonly code: string;
  /** Whether retrying the same call later can succeed. */
  readonly retryable: boolean = false;
}

/** Microsoft 365 answered 429 (or 503 with Retry-After). */
export class ThrottledError extends OnboardingError {
  override readonly name = ErrorName.Throttled;
  readonly code = "M365_THROTTLED";
  override readonly retryable = true;
  /** How long Microsoft asked us to wait, when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** A 5xx, a timeout or a dropped connection. */
export class TransientError extends OnboardingError {
  override readonly name = ErrorName.Transient;
  readonly code = "M365_UNAVAILABLE";
  override readonly retryable = true;
}

/**
 * Another environment (another run's task, an offboarding, a drift check) holds the tenant's
 * Exchange lease for longer than a task waits for it: nothing was sent; the workflow retries.
 */
export class TenantBusyError extends OnboardingError {
  override readonly name = ErrorName.TenantBusy;
  readonly code = "TENANT_BUSY";
  override readonly retryable = true;
}

export class NotFoundError extends OnboardingError {
  override readonly name = ErrorName.NotFound;
  readonly code = "M365_NOT_FOUND";
}

/** The customer's admin has not granted the app consent in this tenant. */
export class ConsentRequiredError extends OnboardingError {
  override readonly name = ErrorName.ConsentRequired;
  readonly code = "CONSENT_REQUIRED";
}

/**
 * The app may not run some cmdlets in this tenant: its role group lacks the management roles
 * that hold them (Exchange answers "The term 'X' is not recognized ..." or "... is not allowed
 * to call X"). Found by check-access's preflight (the tenant then waits in
 * `awaiting_permissions`) or by a step's refused call.
 */
export class PermissionMissingError extends OnboardingError {
  override readonly name = ErrorName.PermissionMissing;
  readonly code = "M365_PERMISSION_MISSING";
  /** Each cmdlet refused and the role that holds it ("unknown" when not known). */
  readonly missing: readonly { cmdlet: string; role: string }[];
  constructor(message: string, missing: readonly { cmdlet: string; role: string }[], options?: ErrorOptions) {
    super(message, options);
    this.missing = missing;
  }
}

/**
 * The app has consent but no Exchange role at all in this tenant: Exchange refuses every call
 * with 403 "The role assigned to application ... isn't supported in this scenario". To the
 * workflow and the partner it is a PermissionMissingError (same name and code) with every role
 * missing; check-access tells it apart to list the roles this tenant needs.
 */
export class NoExchangeRoleError extends PermissionMissingError {}

/** Authenticated, but not allowed (missing role or permission). */
export class AccessDeniedError extends OnboardingError {
  override readonly name = ErrorName.AccessDenied;
  readonly code = "M365_ACCESS_DENIED";
}

/** Microsoft 365 refused the request as invalid; retrying it unchanged cannot succeed. */
export class InvalidRequestError extends OnboardingError {
  override readonly name = ErrorName.InvalidRequest;
  readonly code = "M365_INVALID_REQUEST";
}

/**
 * Exchange refused to create an object because one exists with that name (or another object uses
 * its address). To the workflow and the partner it is an InvalidRequestError (same name, same
 * code); a step that compared before someone created the object tells it apart to read again.
 */
export class ObjectExistsError extends InvalidRequestError {}

/** The Exchange organisation needs `Enable-OrganizationCustomization` first. */
export class DehydratedOrganizationError extends OnboardingError {
  override readonly name = ErrorName.DehydratedOrganization;
  readonly code = "ORGANIZATION_DEHYDRATED";
}

/**
 * Validate-OutboundConnector cannot find the connector yet: directory replication lags its
 * creation. The workflow retries it with backoff for up to 15 minutes.
 */
export class ConnectorValidationPendingError extends OnboardingError {
  override readonly name = ErrorName.ValidationPending;
  readonly code = "CONNECTOR_VALIDATION_PENDING";
  override readonly retryable = true;
}

/**
 * Validation answered with failed (or unreadable) tasks: a smart host refused, the test
 * message bounced. The workflow retries a few times within about 5 minutes, then the step
 * fails with this code and each failed task's message.
 */
export class ConnectorValidationFailedError extends OnboardingError {
  override readonly name = ErrorName.ValidationFailed;
  readonly code = "CONNECTOR_VALIDATION_FAILED";
}

/**
 * The organisation was dehydrated and `Enable-OrganizationCustomization` has been run; Exchange
 * takes up to 48 hours to apply it, so the workflow retries the step with a long backoff meanwhile.
 */
export class OrganizationHydratingError extends OnboardingError {
  override readonly name = ErrorName.Hydrating;
  readonly code = "ORGANIZATION_HYDRATING";
  override readonly retryable = true;
  /** Until when (ISO 8601) the step is retried at the latest. */
  readonly waitingUntil: string | undefined;
  constructor(message: string, waitingUntil?: string, options?: ErrorOptions) {
    super(message, options);
    this.waitingUntil = waitingUntil;
  }
}

/** An identity (address, name) matches more than one object in Exchange: never read as "absent". */
export class AmbiguousIdentityError extends OnboardingError {
  override readonly name = ErrorName.AmbiguousIdentity;
  readonly code = "M365_AMBIGUOUS_IDENTITY";
}

/**
 * The service's Microsoft 365 configuration is wrong (for example AADSTS500011: the token's
 * resource does not exist in this cloud); the customer's consent cannot fix it.
 */
export class M365ConfigurationError extends OnboardingError {
  override readonly name = ErrorName.Configuration;
  readonly code = "M365_CONFIGURATION";
}

/** `ndrAddress` is a group, a team, or an address in the tenant's domains that resolves to nothing. */
export class InvalidNdrRecipientError extends OnboardingError {
  override readonly name = ErrorName.InvalidNdrRecipient;
  readonly code = "INVALID_NDR_ADDRESS";
}

/** A group member (or owner) of the request resolves to no recipient in the tenant. */
export class InvalidGroupMemberError extends OnboardingError {
  override readonly name = ErrorName.InvalidGroupMember;
  readonly code = "INVALID_GROUP_MEMBER";
}

/**
 * A write would make a stored item pass the size the store allows (below DynamoDB's 400 KB
 * per item): refused before it is made, so the tenant's state stays writable (it can still
 * fail, be retried and be offboarded).
 */
export class StateLimitError extends OnboardingError {
  override readonly name = ErrorName.StateLimit;
  readonly code = "STATE_LIMIT_EXCEEDED";
}

/** A state change lost a race or is not allowed from the current state. */
export class ConflictError extends OnboardingError {
  override readonly name = ErrorName.Conflict;
  readonly code = "CONFLICT";
}

/** The `{code, message}` shape stored on a tenant or a step. */
export interface ErrorInfo {
  code: string;
  message: string;
}

/** Turns anything thrown into the `{code, message}` a person sees; unknown errors stay vague. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof OnboardingError)
    return { code: err.code, message: partnerMessage(err.code, err.message) };
  return { code: "INTERNAL_ERROR", message: "An unexpected error occurred; ops can retry the tenant." };
}

/**
 * What partners read for codes whose raw text comes from Entra or Microsoft 365 (token errors
 * carry the app's client id, trace and correlation ids): a fixed, actionable text. The raw text
 * goes to the logs only.
 */
const MAPPED_MESSAGES: Readonly<Record<string, string>> = {
  CONSENT_REQUIRED:
    "The customer's admin has not granted this service's app consent in the tenant; have them consent via consentUrl, then retry.",
  M365_ACCESS_DENIED:
    "Microsoft 365 denied access: the app's service principal needs the Exchange Administrator role in the tenant, or the role group of GET /v1/tenants/{tenantId}/permissions-script (and consent must be current); fix it, then retry.",
  M365_CONFIGURATION:
    "The service's Microsoft 365 app is not set up for this tenant's cloud; ops must fix the service configuration, then retry.",
  M365_THROTTLED: "Microsoft 365 throttled the requests for too long; retry the tenant later.",
  M365_UNAVAILABLE: "Microsoft 365 did not answer (timeouts or server errors); retry the tenant later.",
  M365_NOT_FOUND:
    "Microsoft 365 did not find the tenant or an object the step needs; check the tenant id, then retry.",
};

/** GUIDs (client ids, trace and correlation ids) and Entra's trailing trace lines. */
const GUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const TRACE_LINES = /\s*(?:Trace ID|Correlation ID|Timestamp):[^\r\n]*/gi;
const MAX_PARTNER_MESSAGE = 1000;

/**
 * The partner-visible message of an error: a mapped text per code where the raw text is
 * Entra's or Microsoft's own about the service (see MAPPED_MESSAGES); otherwise our own message
 * (which names the address, member or validation task to fix), with any GUID or trace line
 * removed and cut to 1000 characters.
 */
export function partnerMessage(code: string, raw: string): string {
  const mapped = MAPPED_MESSAGES[code];
  if (mapped) return mapped;
  const cleaned = raw.replace(TRACE_LINES, "").replace(GUID, "<id>").trim();
  return cleaned.length > MAX_PARTNER_MESSAGE ? `${cleaned.slice(0, MAX_PARTNER_MESSAGE - 1)}…` : cleaned;
}

/** A pagination cursor that this service did not issue (or that was tampered with). */
export class InvalidCursorError extends OnboardingError {
  override readonly name = "InvalidCursorError";
  readonly code = "INVALID_CURSOR";
}

/** No such tenant, or one the caller may not see (the API answers both with the same 404). */
export class TenantNotFoundError extends OnboardingError {
  override readonly name = "TenantNotFoundError";
  readonly code = "TENANT_NOT_FOUND";
}

/** No webhook endpoint or delivery with that id for the caller (same 404 for another partner's). */
export class WebhookNotFoundError extends OnboardingError {
  override readonly name = "WebhookNotFoundError";
  readonly code = "WEBHOOK_NOT_FOUND";
}

/** The workflow engine refused to start an execution; the tenant is marked failed and can be retried. */
export class WorkflowStartError extends OnboardingError {
  override readonly name = "WorkflowStartError";
  readonly code = "WORKFLOW_START_FAILED";
}

/** A webhook URL that deliveries may not be sent to (scheme, address or syntax); the message says why. */
export class InvalidWebhookUrlError extends OnboardingError {
  override readonly name = "InvalidWebhookUrlError";
  readonly code = "INVALID_WEBHOOK_URL";
}

/** A correction (`PATCH`) that does not fit the tenant, e.g. `groups` when its region is not split. */
export class InvalidCorrectionError extends OnboardingError {
  override readonly name = "InvalidCorrectionError";
  readonly code = "VALIDATION_FAILED";
  /** The request field at fault. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * An approved plan no longer holds: the live tenant changed between approval and the write, so
 * the step refuses to write something nobody approved.
 */
export class PlanStaleError extends OnboardingError {
  override readonly name = ErrorName.PlanStale;
  readonly code = "PLAN_STALE";
}

/**
 * A step of the task already failed for good in this run (Exchange refused it; recorded on the
 * step with its own error): the task fails without running it again, whatever its siblings did.
 * Carries the step's recorded code; the workflow does not retry it.
 */
export class StepFailedError extends OnboardingError {
  override readonly name = ErrorName.StepFailed;
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
