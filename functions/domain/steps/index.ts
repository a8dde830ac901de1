import type { StepName } from "../tenant.ts";
import { diffAccess } from "./check-access.ts";
import { applyConnectorDiff, applyValidationDiff, diffConnectors, diffValidation } from "./connector.ts";
import type { DiffContext, StepContext, StepOutcome } from "./context.ts";
import type { StepDiff } from "./diff.ts";
import { applyGroupsDiff, diffGroups } from "./groups.ts";
import { applyJournalSettingsDiff, diffJournalSettings } from "./journal-settings.ts";
import { applyJournalRulesAndLeftovers, diffJournalRulesAndLeftovers } from "./leftovers.ts";

export type { DiffContext, StepContext, StepOutcome } from "./context.ts";
export type { Difference, PlannedWrite, StepDiff } from "./diff.ts";

/** Each step's read-only comparison with the live tenant (onboarding, drift checks and plans share it). */
export const DIFFS: Readonly<Record<StepName, (ctx: DiffContext) => Promise<StepDiff>>> = {
  "check-access": diffAccess,
  connector: diffConnectors,
  "validate-connector": diffValidation,
  "journal-settings": diffJournalSettings,
  groups: diffGroups,
  "journal-rules": diffJournalRulesAndLeftovers,
};

/** Each step's writes for a diff (check-access writes nothing). */
export const APPLIES: Readonly<Record<StepName, (ctx: StepContext, diff: StepDiff) => Promise<StepOutcome>>> =
  {
    "check-access": async () => ({ changes: [] }),
    connector: applyConnectorDiff,
    "validate-connector": applyValidationDiff,
    "journal-settings": applyJournalSettingsDiff,
    groups: applyGroupsDiff,
    "journal-rules": applyJournalRulesAndLeftovers,
  };
