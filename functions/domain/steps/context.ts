import { ObjectExistsError } from "../errors.ts";
import type { CreateOptions, M365Tenant } from "../m365.ts";
import type {
  AdoptedKind,
  AdoptedObjects,
  IdentifiedKind,
  ObjectIds,
  OwnedKind,
  OwnedObjectKind,
} from "../owned.ts";
import type { ProviderProfile } from "../provider.ts";
import type { OnboardingRequest } from "../tenant.ts";

/**
 * What a step needs besides Microsoft 365: the request, the provider profile, and durable notes
 * it must write BEFORE the change they protect (so that a crash right after the change still
 * leaves them recorded).
 */
export interface StepContext {
  request: OnboardingRequest;
  profile: ProviderProfile;
  m365: M365Tenant;
  /** Objects this service owns in the tenant (it will create them or did). */
  owned: Readonly<Record<OwnedObjectKind, readonly string[]>>;
  /**
   * Up to `limit` memberships this service added to adopted groups (up to 2 x 10,000: stored
   * apart from the tenant, read a page at a time; a page shrinks as they are disowned).
   */
  ownedMembers(limit: number): Promise<string[]>;
  /** Previous values of objects that existed before and that onboarding changed. */
  adopted: Readonly<AdoptedObjects>;
  /** Immutable identities of owned and adopted objects (found again after a rename). */
  objectIds: Readonly<ObjectIds>;
  /** Records an owned or adopted object's immutable identity (a journal rule's Guid). */
  recordId(kind: IdentifiedKind, name: string, id: string): Promise<void>;
  /** Records that we are about to create objects (one, or a batch), so offboarding may remove them. */
  own(kind: OwnedKind, names: string | readonly string[]): Promise<void>;
  /** Forgets objects: removed by offboarding, or not ours after all. */
  disown(kind: OwnedKind, names: string | readonly string[]): Promise<void>;
  /** Records an existing object's values before the first change to it (once; later calls are ignored). */
  adopt<K extends AdoptedKind>(kind: K, name: string, previous: AdoptedObjects[K][string]): Promise<void>;
  /** Forgets an adopted object once offboarding restored it. */
  release(kind: AdoptedKind, name: string): Promise<void>;
  /** Records the JournalingReportNdrTo we found, once, so offboarding can restore it. */
  rememberPreviousNdrTo(value: string | null): Promise<void>;
  /** Shows where a long step stands on the tenant (e.g. "members 4,000 of 10,000"). */
  progress(text: string): Promise<void>;
  /** Records the JournalingReportNdrTo we wrote, so offboarding knows it after a PATCH. */
  recordNdrAddressSet(value: string): Promise<void>;
  /** The current time, ISO 8601. */
  now(): string;
  /**
   * Tells the steps that wait on this one that they may start, before this step has finished
   * (validate-connector: every connector passed; its marks are still being written). Optional:
   * a step that never calls it is ready when it succeeded.
   */
  ready?(): void;
}

/** What a step's read-only comparison needs: no way to write, in the tenant or in the store. */
export type DiffContext = Pick<StepContext, "request" | "profile" | "m365" | "owned"> &
  Partial<Pick<StepContext, "adopted" | "objectIds">>;

/** What a step did: counted by the tests and the benchmarks, shown in logs. */
export interface StepOutcome {
  changes: string[];
  /** Nothing applied to this tenant (offboarding steps with nothing to remove or restore). */
  skipped?: boolean;
  /** restore-journal-settings: Exchange refused to clear the address, so it was left. */
  ndrAddressKept?: boolean;
}

/**
 * Like Promise.all, but waits for every call to settle before throwing the first failure: a
 * step must not end (and be retried by the workflow) while one of its Exchange calls is still
 * in flight, or the retry would race that call (a second New-* for an object being created).
 */
export async function settled<T>(calls: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(calls);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Creates an object this service will own: recorded as ours BEFORE the create (so that a crash
 * right after it still leaves it ours). When Exchange answers that it exists, made by someone
 * else (the customer's admin, after this step compared), it is not ours: forgotten again, so
 * that the step's next comparison adopts it and offboarding never deletes it.
 */
export async function createOwned<T>(
  ctx: Pick<StepContext, "owned" | "own" | "disown">,
  kind: OwnedObjectKind,
  name: string,
  create: (options: CreateOptions) => Promise<T>,
): Promise<T> {
  const ownedBefore = ctx.owned[kind].includes(name);
  await ctx.own(kind, name);
  try {
    return await create({ ownedBefore });
  } catch (err) {
    if (err instanceof ObjectExistsError && !ownedBefore) await ctx.disown(kind, name);
    throw err;
  }
}
