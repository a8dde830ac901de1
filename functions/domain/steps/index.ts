import type { StepName } from "../tenant.ts";
import { checkAccess } from "./check-access.ts";
import { applyConnectors, validateConnectors } from "./connector.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import { applyGroups } from "./groups.ts";
import { applyJournalRules } from "./journal-rules.ts";
import { applyJournalSettings } from "./journal-settings.ts";

export type { StepContext, StepOutcome } from "./context.ts";

/** Each onboarding step's desired-state logic. */
export const STEPS: Readonly<Record<StepName, (ctx: StepContext) => Promise<StepOutcome>>> = {
  "check-access": checkAccess,
  connector: applyConnectors,
  "validate-connector": validateConnectors,
  "journal-settings": applyJournalSettings,
  groups: applyGroups,
  "journal-rules": applyJournalRules,
};
