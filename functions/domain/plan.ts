/**
 * What a step's read-only comparison finds and the writes it would make: plain JSON, shared by
 * plans, drift results and the audit trail. A leaf of the domain (it imports only step names).
 */
import type { StepName } from "./step-names.ts";

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One way the live tenant differs from what onboarding set up, in the product's words. */
export interface Difference {
  step: StepName;
  /** The object, e.g. `journal rule "Journal Messages to CloudflareArea 1"`. */
  object: string;
  /** The field, e.g. `enabled`, `smartHosts`, or `exists` for a missing object. */
  field: string;
  expected: Json;
  actual: Json;
}

/** One write the step would make: the cmdlet, its parameters (secrets never; long lists summarised) and why. */
export interface PlannedWrite {
  step: StepName;
  cmdlet: string;
  parameters: Record<string, Json>;
  reason: string;
}
