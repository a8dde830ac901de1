/**
 * Read once, then write. An onboarding reads everything it compares in ONE wave of parallel
 * reads (check-access and every remaining step's read-only comparison, side by side), and the
 * steps after it write what those comparisons found without reading again: the dependent chain
 * of Microsoft 365 calls is a token, one level of reads, then only the writes that depend on each
 * other (connector -> validation -> journal rules).
 *
 * The guarantees of desired state stay: a diff is used only by the first attempt of its step in
 * the same run (a retry reads afresh, so a crash between the wave and the writes repeats no
 * write that already happened), and a write that answers that the object changed meanwhile
 * (Exchange cannot find it, or it exists already) makes the step read that state again and
 * compare once more (`isStaleAnswer`).
 */
import { NotFoundError, ObjectExistsError } from "../errors.ts";
import type { M365Tenant } from "../m365.ts";
import type { StepName } from "../tenant.ts";
import { validationAfterConnector } from "./connector.ts";
import type { DiffContext } from "./context.ts";
import type { StepDiff } from "./diff.ts";

/** Diffs by step, as the wave found them (a step whose comparison failed is absent). */
export type WaveDiffs = Partial<Record<StepName, StepDiff>>;

const EXCHANGE_READS = new Set<PropertyKey>([
  "availableCmdlets",
  "getOutboundConnector",
  "getTransportConfig",
  "getRecipient",
  "listRecipients",
  "getAcceptedDomains",
  "getJournalRule",
  "listJournalRules",
  "getDistributionGroup",
  "listDistributionGroupMembers",
]);

/**
 * A view of `tenant` for one wave of reads: the same read with the same arguments is one request
 * whose answer every caller shares (connector and validation both read the connector; the rules
 * and the groups both read the groups). Writes pass through. Use it for one wave only: after a
 * write its answers are stale.
 */
export function readingOnce(tenant: M365Tenant): M365Tenant {
  const answers = new Map<string, Promise<unknown>>();
  const once =
    (name: string, read: (...args: unknown[]) => Promise<unknown>) =>
    (...args: unknown[]): Promise<unknown> => {
      const key = `${name} ${JSON.stringify(args)}`;
      let answer = answers.get(key);
      if (!answer) {
        answer = read(...args);
        answers.set(key, answer);
      }
      return answer;
    };
  const exchange = new Proxy(tenant.exchange, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const bound = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      return EXCHANGE_READS.has(property) ? once(String(property), bound) : bound;
    },
  });
  const organization = once("getOrganization", () => tenant.graph.getOrganization());
  return {
    tenantId: tenant.tenantId,
    exchange,
    graph: { getOrganization: () => organization() as ReturnType<M365Tenant["graph"]["getOrganization"]> },
  };
}

/**
 * The diffs of `steps` as onboarding will apply them, read in one wave: the validation diff as it
 * will be after the connector step (a connector it creates or changes is validated next). A step
 * whose comparison failed is left out (its own task reads again and reports the failure as that
 * step's); `failures` says why, by step.
 */
export function settleWave(
  ctx: Pick<DiffContext, "request" | "profile">,
  results: Partial<Record<StepName, PromiseSettledResult<StepDiff>>>,
): { diffs: WaveDiffs; failures: Partial<Record<StepName, unknown>> } {
  const diffs: WaveDiffs = {};
  const failures: Partial<Record<StepName, unknown>> = {};
  for (const [step, result] of Object.entries(results) as [StepName, PromiseSettledResult<StepDiff>][]) {
    if (result.status === "fulfilled") diffs[step] = result.value;
    else failures[step] = result.reason;
  }
  const connector = diffs.connector;
  const validation = diffs["validate-connector"];
  if (connector && validation) {
    diffs["validate-connector"] = validationAfterConnector(ctx, connector, validation);
  } else if (validation && "connector" in results) {
    // The connector step will run, but its comparison failed: validation cannot know what that
    // step will change. (When the connector step is not to run, validation stays as read.)
    delete diffs["validate-connector"];
  }
  return { diffs, failures };
}

/**
 * Members beyond which the groups step is left out of the wave (it reads for itself): comparing
 * an adopted group resolves every missing member, and a large group's diff would not fit the
 * workflow's state anyway.
 */
export const WAVE_MEMBER_LIMIT = 500;

/** The steps the wave reads for, of `steps` (the groups step not when its groups are large). */
export function waveSteps(
  request: { groups?: { eu: { members: readonly string[] }; us: { members: readonly string[] } } },
  steps: readonly StepName[],
): StepName[] {
  const members = (request.groups?.eu.members.length ?? 0) + (request.groups?.us.members.length ?? 0);
  return steps.filter((step) => step !== "groups" || members <= WAVE_MEMBER_LIMIT);
}

/**
 * How much of the workflow's state the diffs may take (Step Functions passes at most 256 KiB
 * between states). A step's diff goes forward whole or not at all, smallest first: a group of
 * thousands of members does not fit, and its step reads again.
 */
export const FORWARD_BUDGET_BYTES = 96 * 1024;

/**
 * A diff that goes forward to the task that applies it. It holds only while the tenant is as the
 * wave read it: for the attempt of its step it was read for (a retry reads again), for at most
 * `FORWARD_MAX_AGE_MS` (a step that starts after a task-level retry or a long sibling reads
 * again), and, for validation, only when the connector step applied what the wave read (its
 * attempt count unchanged: an attempt that read again counts one more).
 */
export interface ForwardedDiff {
  attempt: number;
  /** When the wave read it (ISO 8601). */
  readAt: string;
  /** Holds only while `step` has made exactly `attempts` attempts. */
  after?: { step: StepName; attempts: number };
  diff: StepDiff;
}
export type ForwardedDiffs = Partial<Record<StepName, ForwardedDiff>>;

/** How long a forwarded diff holds. */
export const FORWARD_MAX_AGE_MS = 60_000;

/**
 * The diffs that go forward in the workflow's state, within `budget` bytes of JSON, each for the
 * step's next attempt (`nextAttempt`): a later attempt of the step (a retry) compares afresh.
 */
export function forwardable(
  diffs: WaveDiffs,
  readAt: string,
  nextAttempt: (step: StepName) => number,
  budget = FORWARD_BUDGET_BYTES,
): ForwardedDiffs {
  const sized = (Object.entries(diffs) as [StepName, StepDiff][])
    .map(([step, diff]) => ({ step, diff, bytes: Buffer.byteLength(JSON.stringify(diff)) }))
    .sort((a, b) => a.bytes - b.bytes);
  const out: ForwardedDiffs = {};
  let used = 0;
  for (const { step, diff, bytes } of sized) {
    if (used + bytes > budget) break;
    out[step] = { attempt: nextAttempt(step), readAt, diff };
    used += bytes;
  }
  const validation = out["validate-connector"];
  if (validation && diffs.connector) {
    // Predicted from the connector's diff: holds only if the connector step applies exactly that.
    if (out.connector) validation.after = { step: "connector", attempts: out.connector.attempt };
    else delete out["validate-connector"];
  }
  return out;
}

/** Whether `forwarded` still holds for `step` of `tenant` at `now` (see ForwardedDiff). */
export function stillHolds(
  forwarded: ForwardedDiff,
  attempts: (step: StepName) => number | undefined,
  step: StepName,
  now: string,
): boolean {
  if (attempts(step) !== forwarded.attempt) return false;
  if (Date.parse(now) - Date.parse(forwarded.readAt) > FORWARD_MAX_AGE_MS) return false;
  return !forwarded.after || attempts(forwarded.after.step) === forwarded.after.attempts;
}

/**
 * Whether a write's error says that the state read in the wave no longer holds (Exchange cannot
 * find the object, or refuses to create one that exists now): the step reads again and compares
 * once more instead of failing.
 */
export function isStaleAnswer(err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof ObjectExistsError;
}
