/**
 * Every error code the service can return, in one place: a tenant's or a step's `error.code`
 * (also in webhook events), a webhook delivery's `error.code`, and the API's problem types
 * (`application/problem+json`, whose `type` is `/v1/errors#<CODE>`).
 *
 * The catalogue is served by `GET /v1/errors`, listed in the OpenAPI document
 * (`x-error-codes`) and rendered to `docs/errors.md` (`npm run docs:errors`). A test fails when
 * a code used in `functions/` is missing here.
 *
 * Adding a code: add one entry below (`CODE: entry(where, retry, meaning, action)`), then run
 * `npm run docs:errors`.
 */

/** Where a code shows up. */
export type ErrorSurface = "tenant" | "webhook-delivery" | "api";

/**
 * Whether trying again helps: `yes` (as is, later; the service often does it itself),
 * `after-fix` (once the cause is fixed: PATCH the tenant or fix it in Microsoft 365, then
 * retry), `no` (the request itself must change).
 */
export type RetryAdvice = "yes" | "after-fix" | "no";

export interface ErrorEntry {
  where: ErrorSurface;
  /** The HTTP status of an API problem. */
  status?: number;
  retry: RetryAdvice;
  /** What happened. */
  meaning: string;
  /** What a partner (or ops) does about it. */
  action: string;
}

const entry = (
  where: ErrorSurface,
  retry: RetryAdvice,
  meaning: string,
  action: string,
  status?: number,
): ErrorEntry => ({ where, retry, meaning, action, ...(status !== undefined && { status }) });

const tenant = (retry: RetryAdvice, meaning: string, action: string) =>
  entry("tenant", retry, meaning, action);
const delivery = (retry: RetryAdvice, meaning: string, action: string) =>
  entry("webhook-delivery", retry, meaning, action);
const api = (status: number, retry: RetryAdvice, meaning: string, action: string) =>
  entry("api", retry, meaning, action, status);

const RETRY = "`POST /v1/tenants/{tenantId}/retry` (or `npx onboarding tenants retry <tenantId>`)";
const PATCH = "`PATCH /v1/tenants/{tenantId}`";

export const ERROR_CATALOGUE = {
  // ---- a tenant's or a step's error.code (also in webhook events) ----------------------------
  INVALID_NDR_ADDRESS: tenant(
    "after-fix",
    "`ndrAddress` is a group or team (distribution list, mail-enabled security group, Microsoft 365 group), or an address in one of the tenant's domains that matches no recipient (a typo), or an address that one of the tenant's journal rules journals. Exchange cannot send undeliverable journal reports there.",
    `Correct \`ndrAddress\` with ${PATCH} to a user mailbox, mail user, mail contact or external address that no journal rule journals, then ${RETRY}.`,
  ),
  INVALID_GROUP_MEMBER: tenant(
    "after-fix",
    "A member of a requested EU/US group resolves to no recipient in the tenant (each unknown member is named in the message). No membership was changed.",
    `Correct the group's members with ${PATCH}, then ${RETRY}.`,
  ),
  M365_AMBIGUOUS_IDENTITY: tenant(
    "after-fix",
    "An address or name in the request matches more than one object in Exchange, so the service cannot tell which one is meant.",
    `Use an address that only one recipient has (the primary SMTP address) with ${PATCH}, or ask the customer's admin to resolve the duplicate, then ${RETRY}.`,
  ),
  M365_CONFIGURATION: tenant(
    "after-fix",
    "Entra ID has no Exchange or Graph resource for this tenant at the configured endpoints (AADSTS500011): the service's Microsoft 365 cloud settings do not match the tenant's cloud (for example a GCC High tenant reached through the commercial endpoints). Consent cannot fix it.",
    "Ops: set `M365_CLOUD` (or the explicit endpoints) to the tenant's cloud; a deployment serves one cloud. Then retry the tenant.",
  ),
  CONSENT_REQUIRED: tenant(
    "after-fix",
    "The tenant is not yet connected to the calling partner by the customer's consent (or the customer's admin has not granted the app consent); the tenant is `awaiting_consent` with the partner's own `consentUrl`. Nothing is done in the tenant until then.",
    `Send the \`consentUrl\` to a global admin of the customer's tenant (read the tenant again for a fresh one: its link is valid for 7 days); once they consent through it, onboarding starts by itself. If it does not, ${RETRY}.`,
  ),
  TENANT_BOUND_ELSEWHERE: tenant(
    "no",
    "The customer's admin completed consent through another provider's link, so the tenant is connected to that provider. Nothing was done in the tenant for this request.",
    "Check with the customer. If they choose you, `POST .../retry` issues a new `consentUrl`; once their admin consents through it, the tenant moves to you.",
  ),
  CUSTOMER_NAME_TAKEN: tenant(
    "after-fix",
    "The customer's admin consented through your link, but the request's `customerName` is the provider account of another partner's customer tenant that is connected to the service. Nothing was done in the tenant. (A claim reserves no `customerName`; a tenant keeps its own when it moves between partners.)",
    `Check the customer's account name at the provider, correct \`customerName\` with ${PATCH}, then ${RETRY} for a new \`consentUrl\` and send it to the customer's admin.`,
  ),
  TENANT_MOVED: tenant(
    "no",
    "The customer's admin connected this tenant to another provider. Your record of it ended `offboarded`: the journal rules, groups and connectors the service set up for you are now managed (re-pointed or removed) by the customer's new onboarding, and nothing keeps journaling to your account.",
    "Nothing to do in the tenant. Check with the customer; if they choose you again, `POST /v1/tenants` issues a new `consentUrl`, and the tenant moves back once their admin consents through it.",
  ),
  CONSENT_EXPIRED: tenant(
    "after-fix",
    "The customer's admin did not consent within 30 days of the request; nothing was done in the tenant.",
    `${RETRY} issues a new \`consentUrl\`; send it to a global admin of the customer's tenant.`,
  ),
  M365_ACCESS_DENIED: tenant(
    "after-fix",
    "Microsoft 365 authenticated the app but refused the call: the app's service principal lacks the Exchange Administrator role (or the role group with the needed management roles), or a Graph permission.",
    `Have the customer's admin assign the role to the app in that tenant (see docs/real-tenant.md), then ${RETRY}.`,
  ),
  M365_PERMISSION_MISSING: tenant(
    "after-fix",
    'The app may not run some Exchange cmdlets in this tenant: it has neither the Exchange Administrator role nor a role group holding the management roles of those cmdlets. Found before any write by check-access (the tenant is `awaiting_permissions` with `missingPermissions`: each cmdlet and its role), or when Exchange refused a cmdlet as "not recognized" / "not allowed" during a step (the message names the cmdlet and its role). An app with consent but no Exchange role at all (Exchange answers 403: the role assigned to the application is not supported in this scenario) is the same case, with every role missing.',
    `Send the customer's admin the tenant's \`consentUrl\` (read the tenant for a fresh one): they set the app's least privilege up with their sign-in, and the tenant is retried by itself. Or send them the PowerShell of \`GET /v1/tenants/{tenantId}/permissions-script\` (ops and partners get it with \`npx onboarding permissions-script <tenantId> --out grant.ps1\`); the admin runs it once in PowerShell 7, or assigns the app the Exchange Administrator role (docs/real-tenant.md). Then ${RETRY}.`,
  ),
  M365_INVALID_REQUEST: tenant(
    "after-fix",
    "Exchange refused a cmdlet as invalid (its message says why: a name or address already used by another object, a quota, a value Exchange does not accept). Sending it again unchanged cannot succeed.",
    `Read the step's message. Fix the value with ${PATCH} (group names and addresses, customerName, ndrAddress) or remove the conflicting object in the tenant, then ${RETRY}.`,
  ),
  M365_NOT_FOUND: tenant(
    "after-fix",
    "An object the step needs does not exist in the tenant: a group member, a recipient or an object deleted meanwhile.",
    `Check the step's message; correct the request with ${PATCH} (e.g. group members) or create the object in the tenant, then ${RETRY}.`,
  ),
  M365_THROTTLED: tenant(
    "yes",
    "Microsoft 365 kept throttling the tenant (HTTP 429) beyond the workflow's retries.",
    `Nothing to fix: ${RETRY} later. Many at once after an outage: \`npx onboarding tenants retry --all-failed\`.`,
  ),
  TENANT_BUSY: tenant(
    "yes",
    "Other work on the same tenant (another run, an offboarding or a drift check) kept its Exchange requests beyond the workflow's retries: the service sends a tenant's requests from one place at a time.",
    `Nothing to fix: ${RETRY} once the other work has ended (its status or drift check settled).`,
  ),
  M365_UNAVAILABLE: tenant(
    "yes",
    "Microsoft 365 answered 5xx, timed out or dropped the connection beyond the workflow's retries.",
    `Check the Microsoft 365 service health; ${RETRY} later.`,
  ),
  ORGANIZATION_DEHYDRATED: tenant(
    "yes",
    "The Exchange organisation is dehydrated and refused a write, and Enable-OrganizationCustomization itself failed.",
    `${RETRY}; the service enables organisation customization once when a write is refused.`,
  ),
  ORGANIZATION_HYDRATING: tenant(
    "yes",
    "The organisation was dehydrated; the service ran Enable-OrganizationCustomization (once: it cannot be undone) and Exchange takes up to 48 hours to apply it. Shown on the step, with `waitingUntil`, while the workflow retries it (60 s doubling to an hour, then hourly); as the tenant's error, it was still not applied after 48 hours.",
    `Nothing while the step retries; if the tenant failed with this code, wait a while, then ${RETRY}.`,
  ),
  CONNECTOR_VALIDATION_PENDING: tenant(
    "yes",
    "Exchange cannot find the new outbound connector for validation yet (directory replication after its creation). Shown on the step while the workflow retries it for up to 15 minutes; as the tenant's error, the connector never appeared.",
    `Nothing while the step retries; if the tenant failed with this code, ${RETRY} later.`,
  ),
  CONNECTOR_VALIDATION_FAILED: tenant(
    "after-fix",
    "Exchange's test of the outbound connector failed for good: a smart host refused the connection or the test message bounced (each failed task is in the message).",
    `Check that the provider's smart hosts accept mail for the journaling address (customerName right?), correct it with ${PATCH} if needed, then ${RETRY}.`,
  ),
  PLAN_STALE: tenant(
    "yes",
    "The customer's tenant changed after the plan was approved, so the approved writes no longer match what the tenant needs; nothing that was not approved was written.",
    "Read the tenant: it is back in `awaiting_approval` with a new plan (or failed at the step that found it stale: retry it for a new plan); review it and approve again.",
  ),
  STATE_LIMIT_EXCEEDED: tenant(
    "after-fix",
    "A step would have stored more about the tenant than one state record may hold (DynamoDB's item limit); it was refused before anything was written, so the tenant stays retryable and offboardable. Memberships and group lists are stored apart and do not count.",
    `Ops: check the step's message for what grew; reduce the request with ${PATCH} if it names the request, then ${RETRY}.`,
  ),
  STEP_TIMEOUT: tenant(
    "yes",
    "A step took longer than the workflow allows and was stopped.",
    `${RETRY}; steps are desired-state, so what was done is not done twice.`,
  ),
  INTERRUPTED: tenant(
    "yes",
    "The workflow stopped without recording an outcome: the service stopped or crashed while it ran or before it started it, or the execution was aborted or timed out. The service notices such a run by itself within minutes.",
    `${RETRY}; it finishes what is left.`,
  ),
  WORKFLOW_START_FAILED: tenant(
    "yes",
    "The workflow engine refused to start the onboarding or offboarding (throttled or unavailable); the tenant is `failed` or `offboarding_failed`. The API answered 503 WORKFLOW_UNAVAILABLE.",
    `${RETRY} (or DELETE again for offboarding).`,
  ),
  INTERNAL_ERROR: tenant(
    "yes",
    "An unexpected error; details are only in the service's logs (an API 500 has no detail either).",
    `${RETRY} once; if it fails again, ops look up the tenant id in the logs.`,
  ),

  // ---- a webhook delivery's error.code (`GET /v1/webhook/deliveries`) ------------------------
  WEBHOOK_TIMEOUT: delivery(
    "yes",
    "The endpoint did not answer within the timeout.",
    "Answer 2xx quickly and process asynchronously; failed deliveries can be replayed.",
  ),
  WEBHOOK_ENDPOINT_UNRESPONSIVE: delivery(
    "yes",
    "Not sent: a recent attempt to the endpoint timed out, so it is left alone until the time in the message (then one attempt probes it). Counts as a failed attempt; the retry schedule goes on.",
    "Answer 2xx quickly and process asynchronously; once the endpoint answers again, later retries go through, and failed deliveries can be replayed.",
  ),
  WEBHOOK_CONNECTION_FAILED: delivery(
    "yes",
    "The connection to the endpoint failed (refused, reset, TLS).",
    "Check the endpoint is reachable over the internet with a valid certificate; replay afterwards.",
  ),
  WEBHOOK_DNS_FAILED: delivery(
    "yes",
    "The endpoint's host name did not resolve.",
    "Fix the DNS record or `PUT /v1/webhook` with the right URL; replay afterwards.",
  ),
  WEBHOOK_ADDRESS_REFUSED: delivery(
    "after-fix",
    "The endpoint resolves to an address deliveries may not go to (private, loopback or link-local).",
    "Use a public https endpoint (`PUT /v1/webhook`); replay afterwards.",
  ),
  WEBHOOK_HTTP_ERROR: delivery(
    "yes",
    "The endpoint answered with a status other than 2xx (redirects are not followed).",
    "Fix the endpoint (or the URL, for a redirect); the delivery is retried, and can be replayed once failed.",
  ),
  WEBHOOK_ENDPOINT_GONE: delivery(
    "after-fix",
    "The endpoint answered 410 Gone: it was disabled and nothing more is sent to it.",
    "`PUT /v1/webhook` again to enable it, then replay what was missed.",
  ),
  WEBHOOK_ENDPOINT_DISABLED: delivery(
    "after-fix",
    "The endpoint is disabled (it answered 410 Gone earlier).",
    "`PUT /v1/webhook` again to enable it, then replay what was missed.",
  ),
  WEBHOOK_ENDPOINT_MISSING: delivery(
    "after-fix",
    "The partner has no webhook endpoint any more.",
    "`PUT /v1/webhook` to register one, then replay what was missed.",
  ),
  // ---- API problems (application/problem+json) -----------------------------------------------
  VALIDATION_FAILED: api(
    400,
    "no",
    "The request is not valid: `errors` lists each field problem with a JSON Pointer (`/body/ndrAddress`, `/query/limit`).",
    "Fix the fields named in `errors` and send the request again.",
  ),
  MALFORMED_JSON: api(400, "no", "The body is not valid JSON.", "Send valid JSON (UTF-8)."),
  INVALID_CURSOR: api(
    400,
    "no",
    "The `cursor` is not one this API issued for this list.",
    "Pass `nextCursor` exactly as returned, with the same filters; start again without a cursor.",
  ),
  INVALID_WEBHOOK_URL: api(
    400,
    "no",
    "The webhook URL may not receive deliveries (scheme, address or syntax); the field problem says why.",
    "Use a public https URL (http only for loopback locally).",
  ),
  UNAUTHORIZED: api(
    401,
    "after-fix",
    "No API key, or one the service does not know (revoked, mistyped).",
    "Send `Authorization: Bearer <api key>` with a valid key.",
  ),
  FORBIDDEN: api(
    403,
    "no",
    "The key's role may not use this operation (e.g. a partner key on `/v1/partners`).",
    "Use a key with the needed role (ops).",
  ),
  CONFLICT: api(
    409,
    "no",
    "The tenant's status does not allow the action (e.g. retry of a `succeeded` tenant, PATCH of a `running` one), or the id is registered already; the detail names the allowed statuses.",
    "Read the tenant again and act on its current status.",
  ),
  NOT_FOUND: api(
    404,
    "no",
    "No such route or resource, or one of another partner (the two look the same).",
    "Check the path and the id; a partner sees only its own tenants.",
  ),
  TENANT_NOT_FOUND: api(
    404,
    "no",
    "No such tenant, or one of another partner (the two look the same).",
    "Check the tenant id; a partner sees only its own tenants.",
  ),
  WEBHOOK_NOT_FOUND: api(
    404,
    "no",
    "No webhook endpoint, or no delivery with that id, for the caller.",
    "`PUT /v1/webhook` first; check the delivery id.",
  ),
  METHOD_NOT_ALLOWED: api(405, "no", "The path exists, not with this method.", "Use a method from `Allow`."),
  PAYLOAD_TOO_LARGE: api(413, "no", "The body is larger than 1 MB.", "Send a smaller body."),
  UNSUPPORTED_MEDIA_TYPE: api(
    415,
    "no",
    "The body is not `application/json` (UTF-8).",
    "Send `Content-Type: application/json`.",
  ),
  IDEMPOTENCY_KEY_REUSED: api(
    422,
    "no",
    "This `Idempotency-Key` was used with a different body within 24 hours.",
    "Use a new key for a new request.",
  ),
  RATE_LIMITED: api(
    429,
    "yes",
    "The caller sent more requests than its rate limit allows; each partner has its own limit, and other partners are not affected.",
    "Wait the `Retry-After` seconds, then send again; spread bulk work out (the CLI's import does).",
  ),
  IDEMPOTENCY_IN_PROGRESS: api(
    409,
    "yes",
    "A request with this `Idempotency-Key` is still being processed.",
    "Send it again after `Retry-After` seconds: the first request's answer is returned.",
  ),
  WORKFLOW_UNAVAILABLE: api(
    503,
    "yes",
    "The workflow could not be started; the tenant exists and is `failed` (or `offboarding_failed`) with WORKFLOW_START_FAILED.",
    `After \`Retry-After\` seconds: ${RETRY} (or DELETE again).`,
  ),
  NOT_IMPLEMENTED: api(
    501,
    "no",
    "The feature is not configured on this deployment (e.g. webhooks).",
    "Ask the operator of the deployment.",
  ),
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Where the catalogue is served; problem types are `/v1/errors#<CODE>`. */
export const ERROR_CATALOGUE_PATH = "/v1/errors";

/** The problem `type` (a URI reference, relative to the API's base URL) of a code. */
export function errorTypeUri(code: string): string {
  return `${ERROR_CATALOGUE_PATH}#${code}`;
}

/** The catalogue as a list, in catalogue order. */
export function errorCatalogueEntries(): ({ code: ErrorCode } & ErrorEntry)[] {
  return (Object.entries(ERROR_CATALOGUE) as [ErrorCode, ErrorEntry][]).map(([code, e]) => ({ code, ...e }));
}

const SURFACE_TITLES: Record<ErrorSurface, string> = {
  tenant: "Tenant and step errors (`error.code` on the tenant, its steps and webhook events)",
  "webhook-delivery": "Webhook delivery errors (`error.code` on `GET /v1/webhook/deliveries`)",
  api: "API problems (`application/problem+json`; `type` is `/v1/errors#<CODE>`, `code` is the code)",
};

const RETRY_TEXT: Record<RetryAdvice, string> = {
  yes: "yes",
  "after-fix": "after fixing the cause",
  no: "no: change the request",
};

/** `docs/errors.md`, as `npm run docs:errors` writes it. */
export function renderErrorCatalogueMarkdown(): string {
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated by `npm run docs:errors` from functions/domain/error-catalogue.ts; do not edit by hand. -->",
    "",
    "Every code the service can return. The same list is served by `GET /v1/errors` (any API key) and",
    "is in the OpenAPI document (`x-error-codes`). A problem's `type` is `/v1/errors#<CODE>` under",
    "the API's base path (`/prod/v1/errors#<CODE>` in AWS): its fragment is the code, the anchor of",
    "its entry below.",
    "",
    "How to fix a `failed` tenant: read `error.code` (and the failed step's message) on",
    "`GET /v1/tenants/{tenantId}` or `npx onboarding tenants show <tenantId>`, do what its entry says",
    "(often: correct the request with `PATCH /v1/tenants/{tenantId}`), then",
    "`POST /v1/tenants/{tenantId}/retry`. A retry re-runs only the steps that did not succeed and",
    "those a PATCH reset.",
    "",
  ];
  for (const surface of ["tenant", "webhook-delivery", "api"] as const) {
    lines.push(`## ${SURFACE_TITLES[surface]}`, "");
    for (const e of errorCatalogueEntries().filter((x) => x.where === surface)) {
      lines.push(`### <a id="${e.code}"></a>${e.code}`, "");
      if (e.status !== undefined) lines.push(`HTTP ${e.status}.`, "");
      lines.push(
        e.meaning,
        "",
        `**Retry helps:** ${RETRY_TEXT[e.retry]}.`,
        "",
        `**What to do:** ${e.action}`,
        "",
      );
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
