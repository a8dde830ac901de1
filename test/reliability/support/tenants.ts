/**
 * Deterministic onboarding requests for the simulator's tenants, and the check that a tenant
 * holds exactly what its onboarding should have created: no duplicate, nothing missing.
 */
import { createHash } from "node:crypto";
import type { OnboardingRequest } from "../../../functions/domain/tenant.ts";
import { HISTORY_ONLY_EVENT_TYPES } from "../../../functions/domain/tenant.ts";
import { demoOnboardingRequest, type TenantSnapshot } from "../../../infra/local/m365-simulator/index.ts";

/** A `POST /v1/tenants` body. */
export type OnboardingBody = OnboardingRequest;

/** A GUID derived from a label, the same on every run. */
export function seededTenantId(label: string): string {
  const h = createHash("sha256").update(label).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Request `i` of a suite: every region, with and without the outbound connector, in turn. */
export function onboardingBody(label: string, i: number): OnboardingBody {
  return demoOnboardingRequest(seededTenantId(`${label}-${i}`), {
    customerName: `${label}-${i}`,
    region: (["us", "eu", "split"] as const)[i % 3]!,
    outboundGateway: Math.floor(i / 3) % 2 === 1,
  });
}

function duplicates(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((n) => {
    const key = n.toLowerCase();
    if (seen.has(key)) return true;
    seen.add(key);
    return false;
  });
}

/**
 * What is wrong with the tenant after onboarding `body` once: duplicate or missing
 * connectors, groups or journal rules, a wrong NDR address. Empty when all is right.
 */
export function tenantProblems(body: OnboardingBody, snapshot: TenantSnapshot): string[] {
  const split = body.region === "split";
  const problems: string[] = [];
  const expect = (what: string, names: string[], count: number) => {
    const dup = duplicates(names);
    if (dup.length > 0) problems.push(`duplicate ${what}: ${dup.join(", ")}`);
    if (names.length !== count) problems.push(`${names.length} ${what}, expected ${count}`);
  };
  expect(
    "connectors",
    snapshot.connectors.map((c) => c.name),
    body.outboundGateway ? (split ? 2 : 1) : 0,
  );
  expect(
    "journal rules",
    snapshot.journalRules.map((r) => r.name),
    split ? 2 : 1,
  );
  expect(
    "created groups",
    snapshot.groups.filter((g) => !g.seeded).map((g) => g.name),
    split ? 2 : 0,
  );
  const allGroups = duplicates(snapshot.groups.map((g) => g.name));
  if (allGroups.length > 0) problems.push(`duplicate group names: ${allGroups.join(", ")}`);
  if (snapshot.journalRules.some((r) => !r.enabled)) problems.push("a journal rule is disabled");
  if (snapshot.journalingReportNdrTo?.toLowerCase() !== body.ndrAddress.toLowerCase()) {
    problems.push(`JournalingReportNdrTo is ${snapshot.journalingReportNdrTo}`);
  }
  return problems.map((p) => `${body.tenantId}: ${p}`);
}

/**
 * Microsoft 365 writes one onboarding of `body` makes on a fresh tenant: the NDR address, each
 * connector (created, then marked validated), group and journal rule once (desired state: a
 * retry after the write landed reads it back and writes nothing).
 */
export function expectedWrites(body: OnboardingBody): number {
  const regions = body.region === "split" ? 2 : 1;
  return 1 + (body.outboundGateway ? 2 * regions : 0) + (body.region === "split" ? 2 : 0) + regions;
}

/** An event as GET /v1/tenants/{id}/events lists it. */
export interface ListedEvent {
  id: string;
  type: string;
  data: { tenantId: string; sequence: number; status: string; step?: string; error?: { code: string } };
}

/** The steps an onboarding of `body` goes through, in workflow order. */
export function applicableSteps(body: OnboardingBody): string[] {
  return [
    "check-access",
    ...(body.outboundGateway ? ["connector", "validate-connector"] : []),
    "journal-settings",
    ...(body.region === "split" ? ["groups"] : []),
    "journal-rules",
  ];
}

/**
 * What is wrong with the event history of a tenant that succeeded after `interruptions` runs
 * cut off by a crash (each followed by a retry): every step succeeds exactly once over all
 * runs, each run starts once, each interruption fails once with INTERRUPTED, and the history
 * ends with one `succeeded`.
 */
export function historyProblems(
  body: OnboardingBody,
  list: readonly ListedEvent[],
  interruptions = 0,
): string[] {
  const problems: string[] = [];
  const ordered = [...list].sort((a, b) => a.data.sequence - b.data.sequence);
  const typeCount = (type: string) => ordered.filter((e) => e.type === type).length;
  const stepEvents = ordered
    .filter((e) => e.type === "tenant.onboarding.step_succeeded")
    .map((e) => e.data.step);
  const steps = applicableSteps(body);
  if ([...stepEvents].sort().join() !== [...steps].sort().join()) {
    problems.push(`steps succeeded [${stepEvents.join(", ")}], expected each of [${steps.join(", ")}] once`);
  }
  if (typeCount("tenant.onboarding.started") !== 1 + interruptions) {
    problems.push(`${typeCount("tenant.onboarding.started")} started events, expected ${1 + interruptions}`);
  }
  const failures = ordered.filter((e) => e.type === "tenant.onboarding.failed");
  if (failures.length !== interruptions || failures.some((e) => e.data.error?.code !== "INTERRUPTED")) {
    problems.push(
      `failures [${failures.map((e) => e.data.error?.code).join(", ")}], expected ${interruptions} INTERRUPTED`,
    );
  }
  if (typeCount("tenant.onboarding.step_failed") !== 0) problems.push("a step failed for good");
  if (
    typeCount("tenant.onboarding.succeeded") !== 1 ||
    ordered.at(-1)?.type !== "tenant.onboarding.succeeded"
  ) {
    problems.push(`history ends with ${ordered.at(-1)?.type}, expected one tenant.onboarding.succeeded`);
  }
  return problems.map((p) => `${body.tenantId}: ${p}`);
}

/** Problems of a tenant's listed events: sequences must be exactly 1..n. */
export function sequenceProblems(tenantId: string, list: readonly ListedEvent[]): string[] {
  const sequences = list.map((e) => e.data.sequence).sort((a, b) => a - b);
  const problems: string[] = [];
  sequences.forEach((s, i) => {
    if (s !== i + 1) problems.push(`${tenantId}: sequence ${s} at position ${i + 1}`);
  });
  const ids = new Set(list.map((e) => e.id));
  if (ids.size !== list.length) problems.push(`${tenantId}: ${list.length - ids.size} duplicate event ids`);
  return problems.slice(0, 3);
}

/** Whether an event type is kept in the tenant's history only, never sent as a webhook. */
export function isHistoryOnly(type: string): boolean {
  return (HISTORY_ONLY_EVENT_TYPES as readonly string[]).includes(type);
}
