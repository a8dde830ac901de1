/**
 * The error a workflow's Catch put in the state (`$.error`) turned back into the
 * `{code, message}` a person can act on: our own named errors by their code in the catalogue,
 * the engine's own (a timed-out or dead task) as STEP_TIMEOUT, anything else INTERNAL_ERROR.
 */

import { type ErrorInfo, ErrorName, partnerMessage } from "../domain/errors.ts";
import { HYDRATION_WAIT_HOURS } from "./hydration-wait.ts";
import type { CaughtError } from "./task-context.ts";

/** Error codes for failures that did not come from our own named errors. */
const STEP_TIMEOUT: ErrorInfo = {
  code: "STEP_TIMEOUT",
  message: "The step took too long and was stopped; retry the tenant.",
};
const ENGINE_ERRORS: Readonly<Record<string, ErrorInfo>> = {
  "States.Timeout": STEP_TIMEOUT,
  // Lambda ended the task function at its time limit (or it died) before it could answer.
  "Sandbox.Timedout": STEP_TIMEOUT,
  "Lambda.Unknown": STEP_TIMEOUT,
};

/** Turns a caught workflow error back into the `{code, message}` a person can act on. */
export function caughtToErrorInfo(caught: CaughtError | undefined): ErrorInfo {
  if (!caught) return { code: "INTERNAL_ERROR", message: "The workflow failed." };
  let message = caught.Cause ?? "";
  let name = caught.Error;
  // Lambda reports `{"errorType","errorMessage","trace"}` as the Cause; the local engine the message.
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string; errorType?: string };
    if (typeof parsed.errorMessage === "string") message = parsed.errorMessage;
    if (typeof parsed.errorType === "string") name = parsed.errorType;
  } catch {
    // a plain message
  }
  const known = CODES_BY_NAME.get(name);
  if (known) {
    if (name === ErrorName.ValidationPending) {
      return {
        code: known,
        message: `${message} Exchange still could not find the connector after 15 minutes; retry the tenant.`,
      };
    }
    if (name === ErrorName.Hydrating) {
      return {
        code: known,
        message: `${message} It was still not applied after ${HYDRATION_WAIT_HOURS} hours; retry the tenant later.`,
      };
    }
    return { code: known, message: partnerMessage(known, message) };
  }
  return (
    ENGINE_ERRORS[name] ?? {
      code: "INTERNAL_ERROR",
      message: "An unexpected error occurred; ops can retry the tenant.",
    }
  );
}

const CODES_BY_NAME = new Map<string, string>([
  [ErrorName.Throttled, "M365_THROTTLED"],
  [ErrorName.Transient, "M365_UNAVAILABLE"],
  [ErrorName.NotFound, "M365_NOT_FOUND"],
  [ErrorName.ConsentRequired, "CONSENT_REQUIRED"],
  [ErrorName.PermissionMissing, "M365_PERMISSION_MISSING"],
  [ErrorName.AccessDenied, "M365_ACCESS_DENIED"],
  [ErrorName.InvalidRequest, "M365_INVALID_REQUEST"],
  [ErrorName.DehydratedOrganization, "ORGANIZATION_DEHYDRATED"],
  [ErrorName.ValidationPending, "CONNECTOR_VALIDATION_PENDING"],
  [ErrorName.ValidationFailed, "CONNECTOR_VALIDATION_FAILED"],
  [ErrorName.Hydrating, "ORGANIZATION_HYDRATING"],
  [ErrorName.AmbiguousIdentity, "M365_AMBIGUOUS_IDENTITY"],
  [ErrorName.Configuration, "M365_CONFIGURATION"],
  [ErrorName.InvalidNdrRecipient, "INVALID_NDR_ADDRESS"],
  [ErrorName.InvalidGroupMember, "INVALID_GROUP_MEMBER"],
  [ErrorName.StateLimit, "STATE_LIMIT_EXCEEDED"],
  [ErrorName.Conflict, "CONFLICT"],
  [ErrorName.PlanStale, "PLAN_STALE"],
  [ErrorName.TenantBusy, "TENANT_BUSY"],
]);
