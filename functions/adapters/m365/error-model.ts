/**
 * One error model for Graph, Exchange and Entra ID: every failure becomes a named error of
 * `functions/domain/errors.ts` carrying the message Microsoft gave.
 */
import { parseRetryAfter } from "../../commons/http.ts";
import {
  AccessDeniedError,
  AmbiguousIdentityError,
  ConsentRequiredError,
  DehydratedOrganizationError,
  InvalidRequestError,
  M365ConfigurationError,
  NoExchangeRoleError,
  NotFoundError,
  ObjectExistsError,
  type OnboardingError,
  PermissionMissingError,
  ThrottledError,
  TransientError,
} from "../../domain/errors.ts";
import { PARAMETER_ROLES, roleOf } from "../../domain/permissions.ts";
import { exceptionTypeHeader, lowerKeys, parseODataError, splitDetail } from "./error-details.ts";

export { parseODataError } from "./error-details.ts";

export type M365Service = "graph" | "exchange" | "identity";

/** What Microsoft said beyond the named error: kept beside it, not on it. */
export interface M365ErrorDetails {
  service: M365Service;
  operation: string;
  status?: number;
  /** Exchange's .NET exception type, e.g. `...ManagementObjectNotFoundException`. */
  exceptionType?: string;
  /** Attempts made in-task before this error was thrown. */
  attempts?: number;
  /** The answer proves the call did not run (a stale token refused before any work). */
  notProcessed?: boolean;
  /**
   * An earlier in-task attempt of the same call failed in a way that does not prove it did not
   * run (a timeout, a dropped connection, a 5xx): this call may have been applied already.
   */
  sentBefore?: boolean;
  /** Refused for Exchange's per-tenant limit on concurrent requests (throttling). */
  concurrencyLimit?: boolean;
}

const details = new WeakMap<object, M365ErrorDetails>();

/** Details of an error thrown by this adapter (undefined for any other error). */
export function m365ErrorDetails(err: unknown): M365ErrorDetails | undefined {
  return typeof err === "object" && err !== null ? details.get(err) : undefined;
}

function withDetails<E extends OnboardingError>(err: E, d: M365ErrorDetails): E {
  details.set(err, d);
  return err;
}

export function setAttempts(err: unknown, attempts: number, sentBefore = false): void {
  const d = m365ErrorDetails(err);
  if (d) {
    d.attempts = attempts;
    d.sentBefore = sentBefore;
  }
}

/**
 * Whether the failure proves Microsoft did not run the call, so sending it again cannot repeat
 * its effect: throttling (429, the per-tenant concurrency limit) refuses before any work, and so
 * does a 401 for a stale token.
 */
export function wasNotProcessed(err: unknown): boolean {
  return err instanceof ThrottledError || m365ErrorDetails(err)?.notProcessed === true;
}

/**
 * A 401 from Exchange with a token we had cached: the token was revoked or the tenant's keys
 * rolled. Retried once with a fresh token (as the ExchangeOnlineManagement module does).
 */
export function staleTokenError(service: M365Service, operation: string, status: number): OnboardingError {
  return withDetails(
    new TransientError(`${operation}: the access token was refused (HTTP ${status}); fetching a new one`),
    {
      service,
      operation,
      status,
      notProcessed: true,
    },
  );
}

/**
 * AADSTS500011: the resource (Exchange or Graph of this cloud) does not exist in the tenant:
 * the endpoints are wrong for this cloud, which no consent can fix.
 */
const CONFIGURATION_CODES = /AADSTS(500011)\b/;
const CONSENT_CODES = /AADSTS(65001|700016|7000229|90094|90008|650052)\b/;
const BAD_CREDENTIAL_CODES = /AADSTS(7000215|7000222|700027|700024|7000216|50027|700021|5002730)\b/;
const CONSENT_TEXT = /consent|not (been )?(installed|provisioned)|service principal/i;
const NOT_FOUND_TEXT =
  /couldn'?t be found|could not be found|ManagementObjectNotFoundException|does not exist/i;
/**
 * Exchange's refusal of a write in a dehydrated organisation (not any text naming the cmdlet):
 * the exception type, or Microsoft's text "... you first need to run the command:
 * Enable-OrganizationCustomization" (docs/m365-fidelity.md D4).
 */
const DEHYDRATED =
  /InvalidOperationInDehydratedContextException|organi[sz]ation is dehydrated|you first need to run the command:?\s*Enable-OrganizationCustomization/i;
/**
 * Directory and storage faults retried whatever the HTTP status carrying them: the five names of
 * the ExchangeOnlineManagement module's `$RetryableExceptions`, plus `ADTransientException` (and
 * any `...TransientException`), which is our own assumption (docs/m365-fidelity.md R6).
 */
const TRANSIENT_EXCEPTIONS =
  /DCOverloadedException|SuitabilityDirectoryException|ServerInMMException|ADServerSettingsChangedException|StorageTransientException|ADTransientException|TransientException\b/;
/** Exchange's per-tenant limit on concurrent requests: throttling, whatever the status. */
const CONCURRENCY_LIMIT =
  /maximum number of concurrent requests|concurrent requests per tenant|too many concurrent/i;
/** "... matches multiple entries": arrives as ManagementObjectNotFoundException too; never "absent". */
/** Exchange's answer to a New-* whose name (or address) is taken. */
export const ALREADY_EXISTS = /AlreadyExists|already exists|already being used/i;
/** The object itself exists (not: another object uses its address, "already being used"). */
const OBJECT_EXISTS = /AlreadyExists|already exists/i;
const AMBIGUOUS = /ManagementObjectAmbiguousException|matches multiple entries|matches more than one/i;
/**
 * A cmdlet outside the app's role assignments: PowerShell's "The term 'X' is not recognized as a
 * name of a cmdlet" (CommandNotFoundException), or the REST API's 401 "User is not allowed to
 * call X" (docs/m365-fidelity.md R8).
 */
const CMDLET_NOT_ALLOWED =
  /is not recognized as (a |the )?name of a cmdlet|CommandNotFoundException|is not allowed to call\b/i;
/**
 * An app with consent but no Exchange role at all: 403 "The role assigned to application <id>
 * isn't supported in this scenario" (CmdletAccessDeniedException; docs/m365-fidelity.md R10).
 */
const NO_ROLE = /role assigned to application .{0,80}?isn'?t supported in this scenario/i;
/**
 * A group with owners changed by a caller that is none of them, without the role that makes
 * -BypassSecurityGroupManagerCheck work: "... can only be performed by a manager of the group".
 */
const MANAGER_ONLY = /only be performed by a manager of the group|OperationRequiresGroupManagerException/i;
/** The cmdlet a refusal names: `The term 'X'` or `allowed to call X`. */
const REFUSED_CMDLET = /The term '([A-Za-z]+-[A-Za-z]+)'|allowed to call ([A-Za-z]+-[A-Za-z]+)/;
/** A parameter the binder does not know: for one held by a role (PARAMETER_ROLES), the role is missing. */
const UNKNOWN_PARAMETER = /cannot be found that matches parameter name '([A-Za-z]+)'/;
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** Maps a non-2xx Graph or Exchange answer to a named error. */
export function errorFromResponse(
  service: M365Service,
  operation: string,
  status: number,
  headers: Headers,
  body: string,
): OnboardingError {
  const parsed = parseODataError(body);
  const text = parsed.message ?? `HTTP ${status}`;
  const message = `${operation}: ${text}`;
  // The body's exception type is the full class name; the header may carry a short one.
  const exceptionType = parsed.exceptionType ?? exceptionTypeHeader(headers);
  const d: M365ErrorDetails = {
    service,
    operation,
    status,
    ...(exceptionType ? { exceptionType } : {}),
  };
  const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
  return classify(service, status, retryAfterMs, exceptionType, text, message, d);
}

/**
 * Errors that Exchange reports inside a 200 answer (`@adminapi.errors`): the cmdlet wrote an
 * error record. Classified as a 400 with that text would be.
 */
export function errorFromAdminApiErrors(operation: string, errors: readonly unknown[]): OnboardingError {
  const texts = errors.map((e) => {
    if (typeof e === "string") return e;
    const o = lowerKeys(e);
    const m = o?.message ?? o?.exception ?? o?.errormessage;
    return typeof m === "string" ? m : JSON.stringify(e);
  });
  const details = texts.map(splitDetail);
  const exceptionType = details.find((d) => d.exceptionType)?.exceptionType;
  const text = details.map((d) => d.text).join(" ");
  const d: M365ErrorDetails = {
    service: "exchange",
    operation,
    status: 200,
    ...(exceptionType ? { exceptionType } : {}),
  };
  return classify("exchange", 400, undefined, exceptionType, text, `${operation}: ${text}`, d);
}

function classify(
  service: M365Service,
  status: number,
  retryAfterMs: number | undefined,
  exceptionType: string | undefined,
  text: string,
  message: string,
  d: M365ErrorDetails,
): OnboardingError {
  const typeAndText = `${exceptionType ?? ""} ${text}`;
  // Exchange's exception type is unambiguous whatever status carries it.
  if (TRANSIENT_EXCEPTIONS.test(exceptionType ?? "")) return withDetails(new TransientError(message), d);
  if (DEHYDRATED.test(typeAndText)) return withDetails(new DehydratedOrganizationError(message), d);
  if (TRANSIENT_EXCEPTIONS.test(text)) return withDetails(new TransientError(message), d);
  if (CONCURRENCY_LIMIT.test(text)) {
    return withDetails(new ThrottledError(message, retryAfterMs), { ...d, concurrencyLimit: true });
  }
  if (AMBIGUOUS.test(typeAndText)) return withDetails(new AmbiguousIdentityError(message), d);
  if (/ManagementObjectNotFoundException/.test(exceptionType ?? "")) {
    return withDetails(new NotFoundError(message), d);
  }
  if (service === "exchange" && NO_ROLE.test(text)) {
    return withDetails(
      new NoExchangeRoleError(
        `Exchange refused ${d.operation}: the app has no Exchange role in this tenant. Have the customer's admin run the permissions script (GET /v1/tenants/{tenantId}/permissions-script) or assign Exchange Administrator, then retry (a new role can take up to an hour to reach Exchange). Exchange said: ${text}`,
        [],
      ),
      d,
    );
  }
  if (service === "exchange" && CMDLET_NOT_ALLOWED.test(typeAndText)) {
    const named = REFUSED_CMDLET.exec(text);
    const cmdlet = named?.[1] ?? named?.[2] ?? d.operation;
    const role = roleOf(cmdlet) ?? "unknown";
    return withDetails(
      new PermissionMissingError(
        `Exchange refused ${cmdlet}: the app may not run it in this tenant (management role: ${role}). Have the customer's admin run the permissions script (GET /v1/tenants/{tenantId}/permissions-script) or assign Exchange Administrator, then retry. Exchange said: ${text}`,
        [{ cmdlet, role }],
      ),
      d,
    );
  }
  if (service === "exchange" && MANAGER_ONLY.test(typeAndText)) {
    const role = PARAMETER_ROLES.BypassSecurityGroupManagerCheck ?? "Security Group Creation and Membership";
    return withDetails(
      new PermissionMissingError(
        `Exchange refused ${d.operation}: only the group's owners may change it, and the app lacks the role that lets it act for them (management role: ${role}). Have the customer's admin run the permissions script (GET /v1/tenants/{tenantId}/permissions-script) or assign Exchange Administrator, then retry. Exchange said: ${text}`,
        [{ cmdlet: `${d.operation} -BypassSecurityGroupManagerCheck`, role }],
      ),
      d,
    );
  }
  const parameter = service === "exchange" ? UNKNOWN_PARAMETER.exec(text)?.[1] : undefined;
  const parameterRole = parameter === undefined ? undefined : PARAMETER_ROLES[parameter];
  if (parameter && parameterRole) {
    return withDetails(
      new PermissionMissingError(
        `Exchange does not let the app use ${d.operation} -${parameter} in this tenant (management role: ${parameterRole}). Have the customer's admin run the permissions script (GET /v1/tenants/{tenantId}/permissions-script) or assign Exchange Administrator, then retry. Exchange said: ${text}`,
        [{ cmdlet: `${d.operation} -${parameter}`, role: parameterRole }],
      ),
      d,
    );
  }
  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
    return withDetails(new ThrottledError(message, retryAfterMs), d);
  }
  if (status === 408 || status >= 500) return withDetails(new TransientError(message), d);
  if (status === 404) return withDetails(new NotFoundError(message), d);
  if (CONFIGURATION_CODES.test(text)) return withDetails(new M365ConfigurationError(message), d);
  if (status === 401 && (CONSENT_CODES.test(text) || CONSENT_TEXT.test(text))) {
    return withDetails(new ConsentRequiredError(message), d);
  }
  if (status === 401 || status === 403) return withDetails(new AccessDeniedError(message), d);
  if (NOT_FOUND_TEXT.test(typeAndText)) return withDetails(new NotFoundError(message), d);
  if (service === "exchange" && OBJECT_EXISTS.test(typeAndText)) {
    return withDetails(new ObjectExistsError(message), d);
  }
  return withDetails(new InvalidRequestError(message), d);
}

/** Maps a failure of the token request (@azure/identity / MSAL) to a named error. */
export function errorFromTokenFailure(tenantId: string, resource: string, err: unknown): OnboardingError {
  const text = chainText(err);
  const status = chainStatus(err);
  const d: M365ErrorDetails = {
    service: "identity",
    operation: `token ${resource}`,
    ...(status ? { status } : {}),
  };
  const reason = firstSentence(text);
  if (CONFIGURATION_CODES.test(text)) {
    return withDetails(
      new M365ConfigurationError(
        `Entra ID has no resource ${resource} in tenant ${tenantId}: the Microsoft 365 endpoints do not match this tenant's cloud (M365_CLOUD). ${reason}`,
        { cause: err },
      ),
      d,
    );
  }
  if (CONSENT_CODES.test(text)) {
    return withDetails(
      new ConsentRequiredError(`The app has no admin consent in tenant ${tenantId}: ${reason}`, {
        cause: err,
      }),
      d,
    );
  }
  if (BAD_CREDENTIAL_CODES.test(text)) {
    return withDetails(
      new AccessDeniedError(`Entra ID rejected the app's credentials for tenant ${tenantId}: ${reason}`, {
        cause: err,
      }),
      d,
    );
  }
  if (/AADSTS(90002|900023|90013)\b/.test(text)) {
    return withDetails(new InvalidRequestError(`token for tenant ${tenantId}: ${reason}`, { cause: err }), d);
  }
  if (status === 429 || /AADSTS50196\b/.test(text)) {
    return withDetails(
      new ThrottledError(`token for tenant ${tenantId}: ${reason}`, undefined, { cause: err }),
      d,
    );
  }
  if (
    (status !== undefined && status >= 500) ||
    isNetworkError(err) ||
    /network_error|temporarily_unavailable|AADSTS90033\b/.test(text)
  ) {
    return withDetails(new TransientError(`token for tenant ${tenantId}: ${reason}`, { cause: err }), d);
  }
  // No verdict of Entra at all (no HTTP status, no AADSTS code): the request failed on the way
  // (a client timeout, a discovery fetch that broke off), not a refusal; it is retried.
  if (status === undefined && !/AADSTS\d+/.test(text)) {
    return withDetails(
      new TransientError(`token for tenant ${tenantId}: no answer from Entra ID: ${reason}`, { cause: err }),
      d,
    );
  }
  return withDetails(new AccessDeniedError(`token for tenant ${tenantId}: ${reason}`, { cause: err }), d);
}

/** Messages of an error and its causes (identity wraps MSAL's error, which holds the text). */
function chainText(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const e = current as { message?: unknown; errorCode?: unknown; errorMessage?: unknown };
    for (const v of [e.errorCode, e.errorMessage, e.message]) if (typeof v === "string" && v) parts.push(v);
    if (typeof current !== "object") {
      parts.push(String(current));
      break;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(" ");
}

/** The HTTP status somewhere in the chain (identity: statusCode; MSAL: status). */
function chainStatus(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const e = current as { statusCode?: unknown; status?: unknown };
    for (const v of [e.statusCode, e.status]) if (typeof v === "number" && v >= 100) return v;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Maps a thrown fetch failure (no HTTP answer) to TransientError. */
export function errorFromNetworkFailure(
  service: M365Service,
  operation: string,
  err: unknown,
): OnboardingError {
  const timeout = err instanceof DOMException && err.name === "TimeoutError";
  const reason = timeout ? "timed out" : `connection failed (${networkCode(err) ?? describe(err)})`;
  return withDetails(new TransientError(`${operation}: ${reason}`, { cause: err }), { service, operation });
}

export function isNetworkError(err: unknown): boolean {
  const code = networkCode(err);
  return (
    (code !== undefined && NETWORK_CODES.has(code)) ||
    (err instanceof TypeError && /fetch failed/i.test(err.message))
  );
}

function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Entra error texts end in trace ids and timestamps; keep the part a person can act on. */
function firstSentence(text: string): string {
  const aadsts = /AADSTS\d+:[^\r\n]*?(?= Trace ID:|\r|\n|$)/.exec(text)?.[0];
  return (aadsts ?? text).trim().slice(0, 600);
}
