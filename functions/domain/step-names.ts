/**
 * The names of a tenant's steps, in workflow order: onboarding's, the hand-over after a change
 * of owner, and offboarding's. A leaf of the domain (it imports nothing): the tenant, plans,
 * drift results and the audit trail all name steps.
 */

/** Workflow order. */
export const STEP_NAMES = [
  "check-access",
  "connector",
  "validate-connector",
  "journal-settings",
  "groups",
  "journal-rules",
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** Offboarding's own steps, shown on the tenant once offboarding has started, in order. */
export const OFFBOARDING_STEP_NAMES = [
  "remove-journal-rules",
  "remove-groups",
  "remove-connectors",
  "restore-journal-settings",
] as const;
export type OffboardingStepName = (typeof OFFBOARDING_STEP_NAMES)[number];

/**
 * After a change of owner, the new record's first step: the previous owner's journaling stops
 * (the service's rules to its account disabled, adopted rules given the customer's values back)
 * before anything else of the new onboarding. Shown only on a record that took a tenant over.
 */
export const HAND_OVER_STEP = "hand-over";

/** The steps an onboarding run may show and report in events: the hand-over, then onboarding's. */
export const RUN_STEP_NAMES = [HAND_OVER_STEP, ...STEP_NAMES] as const;
export type RunStepName = (typeof RUN_STEP_NAMES)[number];

/** Every step a tenant can show: the hand-over, onboarding's, then offboarding's. */
export const ALL_STEP_NAMES = [...RUN_STEP_NAMES, ...OFFBOARDING_STEP_NAMES] as const;
export type AnyStepName = (typeof ALL_STEP_NAMES)[number];
