import type { M365Tenant } from "../m365.ts";
import type { ProviderProfile } from "../provider.ts";
import type { OwnedKind } from "../store.ts";
import type { OnboardingRequest } from "../tenant.ts";

/**
 * What a step needs besides Microsoft 365: the request, the provider profile, and two
 * durable notes it must write BEFORE the change they protect (so that a crash right after the
 * change still leaves them recorded).
 */
export interface StepContext {
  request: OnboardingRequest;
  profile: ProviderProfile;
  m365: M365Tenant;
  /** Objects this service owns in the tenant (it will create them or did). */
  owned: Readonly<Record<OwnedKind, readonly string[]>>;
  /** Records that we are about to create an object, so offboarding may remove it. */
  own(kind: OwnedKind, name: string): Promise<void>;
  /** Records the JournalingReportNdrTo we found, once, so offboarding can restore it. */
  rememberPreviousNdrTo(value: string | null): Promise<void>;
}

/** What a step did: counted by the tests and the benchmarks, shown in logs. */
export interface StepOutcome {
  changes: string[];
}
