/**
 * The change that records a run's outcome on the tenant (the RecordOutcome task's `outcome`, and
 * Journal's own `succeeded`): its status, error and event, and the steps it fails.
 */

import type { Outcome } from "../../workflows/definition.ts";
import { ConflictError, type ErrorInfo } from "../domain/errors.ts";
import type { M365Gateway } from "../domain/m365.ts";
import type { StoredTenant, TenantChange } from "../domain/store.ts";
import { OFFBOARDING_STEP_NAMES } from "../domain/tenant.ts";
import { caughtToErrorInfo } from "./caught-error.ts";
import type { TaskInput } from "./task-context.ts";

/** What an outcome's change may read: the tenant (for this run), the gateway, the time. */
export interface OutcomeReads {
  load: (tenantId: string) => Promise<StoredTenant>;
  m365: () => Promise<M365Gateway>;
  now: () => string;
}

type OutcomeBuilder = (
  input: TaskInput,
  error: ErrorInfo | undefined,
  reads: OutcomeReads,
) => TenantChange | Promise<TenantChange>;

const stepFailed: OutcomeBuilder = (input, error, { now }) => {
  if (!input.step) throw new ConflictError("step_failed needs a step.");
  return {
    expectStatus: ["running"],
    steps: {
      [input.step]: { status: "failed", finishedAt: now(), error: error ?? null },
    },
    event: { type: "tenant.onboarding.step_failed", step: input.step, ...(error ? { error } : {}) },
  };
};

const awaitingConsent: OutcomeBuilder = async (input, error, { m365, now }) => {
  const consent = error ?? { code: "CONSENT_REQUIRED", message: "Admin consent is required." };
  return {
    expectStatus: ["running"],
    status: "awaiting_consent",
    consentUrl: (await m365()).consentUrl(input.tenantId),
    error: {
      code: "CONSENT_REQUIRED",
      message: `A global admin of the tenant must grant consent at the consentUrl, then retry. (${consent.message})`,
    },
    steps: { "check-access": { status: "failed", finishedAt: now(), error: consent } },
    event: { type: "tenant.onboarding.awaiting_consent", error: consent },
  };
};

const awaitingPermissions: OutcomeBuilder = (input, error, { now }) => {
  const missing = error ?? {
    code: "M365_PERMISSION_MISSING",
    message: "The app may not run some cmdlets in this tenant.",
  };
  return {
    expectStatus: ["running"],
    status: "awaiting_permissions",
    error: {
      code: "M365_PERMISSION_MISSING",
      // The cmdlets and roles are in missingPermissions and the step's error: not repeated here.
      message: `The app lacks Exchange roles in this tenant (missingPermissions). The customer's admin grants them with their sign-in at the tenant's consentUrl (the tenant is then retried), or once in PowerShell with the script of GET /v1/tenants/${input.tenantId}/permissions-script (or assigns the app the Exchange Administrator role), then retry.`,
    },
    steps: { "check-access": { status: "failed", finishedAt: now(), error: missing } },
    event: { type: "tenant.onboarding.awaiting_permissions", error: missing },
  };
};

const succeeded: OutcomeBuilder = () => ({
  expectStatus: ["running"],
  status: "succeeded",
  error: null,
  consentUrl: null,
  missingPermissions: null,
  approvedPlan: null,
  event: { type: "tenant.onboarding.succeeded" },
});

const failed: OutcomeBuilder = async (input, error, { load }) => {
  const { tenant } = await load(input.tenantId);
  const firstFailure = tenant.steps.find((s) => s.status === "failed")?.error;
  const reason = firstFailure ??
    error ?? { code: "INTERNAL_ERROR", message: "The workflow failed; ops can retry the tenant." };
  // A step Exchange refused for want of a role (the preflight could not see it, e.g. a
  // role-bound parameter): the tenant waits for the grant, as after check-access.
  if (reason.code === "M365_PERMISSION_MISSING" && tenant.missingPermissions?.length) {
    return {
      expectStatus: ["running"],
      status: "awaiting_permissions",
      error: reason,
      event: { type: "tenant.onboarding.awaiting_permissions", error: reason },
    };
  }
  return {
    expectStatus: ["running"],
    status: "failed",
    error: reason,
    event: { type: "tenant.onboarding.failed", error: reason },
    // approval: required: a retry plans what is left and waits for its approval again.
    ...(tenant.approval === "required"
      ? { approvedPlan: null, steps: { "check-access": { status: "pending" as const } } }
      : {}),
  };
};

const offboardingSucceeded: OutcomeBuilder = async (input, _error, { load }) => {
  const { tenant } = await load(input.tenantId);
  return {
    expectStatus: ["offboarding"],
    status: "offboarded",
    error: null,
    event: {
      type: "tenant.offboarding.succeeded",
      ...(tenant.ndrAddressKept ? { ndrAddressKept: true } : {}),
    },
  };
};

const offboardingFailed: OutcomeBuilder = async (input, error, { load, now }) => {
  const { tenant } = await load(input.tenantId);
  const unfinished = tenant.steps.filter(
    (s) => (OFFBOARDING_STEP_NAMES as readonly string[]).includes(s.name) && s.status === "running",
  );
  const reason = error ?? unfinished[0]?.error ?? { code: "INTERNAL_ERROR", message: "Offboarding failed." };
  return {
    expectStatus: ["offboarding"],
    status: "offboarding_failed",
    error: reason,
    steps: Object.fromEntries(
      unfinished.map((s) => [
        s.name,
        { status: "failed" as const, finishedAt: now(), error: s.error ?? reason },
      ]),
    ),
    event: { type: "tenant.offboarding.failed", error: reason },
  };
};

const OUTCOMES: Readonly<Record<Outcome, OutcomeBuilder>> = {
  step_failed: stepFailed,
  awaiting_consent: awaitingConsent,
  awaiting_permissions: awaitingPermissions,
  succeeded,
  failed,
  offboarding_succeeded: offboardingSucceeded,
  offboarding_failed: offboardingFailed,
};

/** The change that records `input.outcome` (ConflictError for an outcome the table does not hold). */
export async function outcomeChange(input: TaskInput, reads: OutcomeReads): Promise<TenantChange> {
  const error = input.error ? caughtToErrorInfo(input.error) : undefined;
  const build =
    input.outcome !== undefined && Object.hasOwn(OUTCOMES, input.outcome)
      ? OUTCOMES[input.outcome]
      : undefined;
  if (!build) throw new ConflictError(`Unknown outcome ${String(input.outcome)}.`);
  return build(input, error, reads);
}
