/**
 * The one UpdateItem of a tenant's state change: its conditions (expected status, run, attempt,
 * a change applied once), the fields it writes, the steps it patches and the event it appends
 * to the item's outbox (taking the next sequence), so that a change and its event are durable
 * together.
 */
import { ConflictError } from "../../domain/errors.ts";
import { IDENTIFIED_KINDS, type IdentifiedKind } from "../../domain/owned.ts";
import type { OwnedObjectKind, StepPatch, TenantChange } from "../../domain/store.ts";
import { ALL_STEP_NAMES, STEP_NAMES, type TenantStatus } from "../../domain/tenant.ts";
import { DRIFT_CHECK_CLAIM } from "./drift-check-claims.ts";
import { TABLE_KEYS } from "./schema.ts";
import { type OutboxEntry, OWNED_ATTRIBUTES, type StoredStep, type TenantItem } from "./tenant-item.ts";
import { UpdateExpression } from "./update-expression.ts";

export interface TransitionWrite {
  now: string;
  changeId: string;
  /** The status the event records (the change's, or the one read and pinned). */
  eventStatus: TenantStatus | undefined;
  /** The status read before the write, which the write then requires. */
  pinned: TenantStatus | undefined;
  /** How many parts corrected groups were stored in (0: none, or in the item). */
  groupsParts: number;
  /** When an item that becomes `offboarded` expires (TTL, epoch seconds). */
  expiresAt: number;
}

export function transitionCommand(change: TenantChange, write: TransitionWrite): UpdateExpression {
  const u = new UpdateExpression();
  changeConditions(u, change, write);
  statusAndCorrection(u, change, write);
  serviceKnowledge(u, change);
  stepUpdates(u, change);
  if (change.event) appendEvent(u, change.event, write);
  return u;
}

function changeConditions(
  u: UpdateExpression,
  change: TenantChange,
  { changeId, pinned }: TransitionWrite,
): void {
  u.condition(`attribute_exists(${u.path("pk")})`);
  if (change.expectStatus) {
    u.condition(`${u.path("status")} IN (${change.expectStatus.map((s) => u.value(s)).join(", ")})`);
  }
  if (pinned !== undefined) u.condition(`${u.path("status")} = ${u.value(pinned)}`);
  if (change.expectRun !== undefined) u.condition(`${u.path("run")} = ${u.value(change.expectRun)}`);
  if (change.expectAttempt) {
    const { step, attempts } = change.expectAttempt;
    u.condition(`${u.path("steps", step, "attempts")} = ${u.value(attempts)}`);
  }
  const lastChange = u.path("lastChangeId");
  const changeIdValue = u.value(changeId);
  u.condition(`attribute_not_exists(${lastChange}) OR ${lastChange} <> ${changeIdValue}`);
  u.set(lastChange, changeIdValue);
}

function statusAndCorrection(u: UpdateExpression, change: TenantChange, write: TransitionWrite): void {
  const { now, changeId, groupsParts } = write;
  u.set(u.path("updatedAt"), u.value(now));
  if (change.status) u.set(u.path("status"), u.value(change.status));
  // An offboarded tenant expires (TTL) unless registered again meanwhile (which removes it).
  if (change.status === "offboarded") u.set(u.path(TABLE_KEYS.ttl), u.value(write.expiresAt));
  else if (change.status) u.remove(u.path(TABLE_KEYS.ttl));
  for (const name of ["error", "consentUrl", "missingPermissions"] as const) {
    const value = change[name];
    if (value === null) u.remove(u.path(name));
    else if (value !== undefined) u.set(u.path(name), u.value(value));
  }
  if (change.newRun) u.add(u.path("run"), 1);
  const { groups, ...fields } = change.correct ?? {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) u.set(u.path(name), u.value(value));
  }
  if (groupsParts) {
    u.set(u.path("groupsParts"), u.value(groupsParts));
    u.set(u.path("groupsPartsId"), u.value(changeId));
    u.remove(u.path("groups"));
  } else if (groups) {
    u.set(u.path("groups"), u.value(groups));
    u.remove(u.path("groupsParts"));
    u.remove(u.path("groupsPartsId"));
  }
}

/** What the service knows of the tenant: owned and adopted objects, the NDR address, drift and plans. */
function serviceKnowledge(u: UpdateExpression, change: TenantChange): void {
  for (const kind of Object.keys(OWNED_ATTRIBUTES) as OwnedObjectKind[]) {
    const own = change.own?.[kind] ?? [];
    const disown = change.disown?.[kind] ?? [];
    if (own.length && disown.length) throw new TypeError(`own and disown ${kind} in separate changes`);
    if (own.length) u.add(u.path(OWNED_ATTRIBUTES[kind]), new Set(own));
    if (disown.length) u.delete(u.path(OWNED_ATTRIBUTES[kind]), new Set(disown));
  }
  if (change.previousNdrTo !== undefined) {
    const previous = u.path("previousNdrTo");
    u.set(previous, `if_not_exists(${previous}, ${u.value(change.previousNdrTo)})`);
  }
  if (change.customizationEnabledAt !== undefined) {
    // A claim: exactly one writer records, replaces or forgets it (the others get a ConflictError).
    const at = u.path("customizationEnabledAt");
    if (change.customizationClaimWas === undefined) u.condition(`attribute_not_exists(${at})`);
    else u.condition(`${at} = ${u.value(change.customizationClaimWas)}`);
    if (change.customizationEnabledAt === null) u.remove(at);
    else u.set(at, u.value(change.customizationEnabledAt));
  }
  if (change.ndrAddressSet !== undefined) u.set(u.path("ndrAddressSet"), u.value(change.ndrAddressSet));
  for (const name of ["drift", "plan", "approvedPlan"] as const) {
    const value = change[name];
    if (value === null) u.remove(u.path(name));
    else if (value !== undefined) u.set(u.path(name), u.value(value));
  }
  // A check's result (or a new run, which a running check no longer writes to) ends the claim
  // of the on-demand check (drift-check-claims.ts).
  if (change.drift !== undefined || change.newRun) u.remove(u.path(DRIFT_CHECK_CLAIM));
  if (change.requestedBy !== undefined) u.set(u.path("requestedBy"), u.value(change.requestedBy));
  if (change.remediations !== undefined) u.set(u.path("remediations"), u.value(change.remediations));
  if (change.ndrAddressKept === null) u.remove(u.path("ndrAddressKept"));
  else if (change.ndrAddressKept !== undefined)
    u.set(u.path("ndrAddressKept"), u.value(change.ndrAddressKept));
  if (change.adopt && change.release) throw new TypeError("adopt and release in separate changes");
  if (change.adopt) {
    const path = u.path("adopted", change.adopt.kind, change.adopt.name);
    u.set(path, `if_not_exists(${path}, ${u.value(change.adopt.previous)})`);
  }
  if (change.release) u.remove(u.path("adopted", change.release.kind, change.release.name));
  objectIds(u, change);
}

/**
 * An object's recorded identity (a journal rule's or a group's): set with `recordId`, removed
 * with the object's name when it is disowned or released (the name stays the key: the admin may
 * rename the object).
 */
function objectIds(u: UpdateExpression, change: TenantChange): void {
  const forgotten = (kind: IdentifiedKind) => [
    ...(change.disown?.[kind] ?? []),
    ...(change.release?.kind === kind ? [change.release.name] : []),
  ];
  if (change.recordId) {
    if (forgotten(change.recordId.kind).includes(change.recordId.name))
      throw new TypeError("record and forget an id in separate changes");
    u.set(u.path("objectIds", change.recordId.kind, change.recordId.name), u.value(change.recordId.id));
  }
  for (const kind of IDENTIFIED_KINDS)
    for (const name of new Set(forgotten(kind))) u.remove(u.path("objectIds", kind, name));
}

/** Whether the change writes into the `adopted` or `objectIds` maps (absent on older records). */
export function writesNestedMaps(change: TenantChange): boolean {
  return Boolean(
    change.adopt ||
      change.release ||
      change.recordId ||
      change.disown?.journalRules?.length ||
      change.disown?.groups?.length,
  );
}

function appendEvent(
  u: UpdateExpression,
  event: NonNullable<TenantChange["event"]>,
  { changeId, now, eventStatus }: TransitionWrite,
): void {
  if (eventStatus === undefined) throw new Error("unreachable: event status unknown");
  const entry: OutboxEntry = {
    id: changeId,
    type: event.type,
    timestamp: now,
    status: eventStatus,
    ...(event.step ? { step: event.step } : {}),
    ...(event.error ? { error: event.error } : {}),
    ...(event.ndrAddressKept !== undefined ? { ndrAddressKept: event.ndrAddressKept } : {}),
    ...(event.drift !== undefined ? { drift: event.drift } : {}),
  };
  const outbox = u.path("outbox");
  u.add(u.path("seq"), 1);
  u.set(outbox, `list_append(if_not_exists(${outbox}, ${u.value([])}), ${u.value([entry])})`);
}

/** Per step, one assignment per field: a reset and a patch of the same step merge (paths must not overlap). */
function stepUpdates(u: UpdateExpression, change: TenantChange): void {
  for (const name of ALL_STEP_NAMES) {
    const patch: StepPatch | undefined = change.steps?.[name];
    if (patch?.fresh) {
      // A step shown for the first time (offboarding's): the whole object, attempts from 0.
      const step: StoredStep = { status: patch.status ?? "pending", initialStatus: "pending", attempts: 0 };
      u.set(u.path("steps", name), u.value(step));
      continue;
    }
    const fields = new Map<string, { value: unknown } | { fromPath: string } | "remove" | "increment">();
    if (change.resetSteps && (STEP_NAMES as readonly string[]).includes(name)) {
      fields.set("status", { fromPath: "initialStatus" });
      for (const f of ["startedAt", "finishedAt", "error", "progress", "waitingUntil"])
        fields.set(f, "remove");
    }
    if (patch) {
      if (patch.status) fields.set("status", { value: patch.status });
      if (patch.startedAt) fields.set("startedAt", { value: patch.startedAt });
      if (patch.finishedAt) fields.set("finishedAt", { value: patch.finishedAt });
      if (patch.error === null) fields.set("error", "remove");
      else if (patch.error) fields.set("error", { value: patch.error });
      if (patch.countAttempt) fields.set("attempts", "increment");
      if (patch.initialStatus) fields.set("initialStatus", { value: patch.initialStatus });
      if (patch.progress === null) fields.set("progress", "remove");
      else if (patch.progress) fields.set("progress", { value: patch.progress });
      if (patch.waitingUntil === null) fields.set("waitingUntil", "remove");
      else if (patch.waitingUntil) fields.set("waitingUntil", { value: patch.waitingUntil });
    }
    for (const [field, op] of fields) {
      const path = u.path("steps", name, field);
      if (op === "remove") u.remove(path);
      else if (op === "increment") u.set(path, `${path} + ${u.value(1)}`);
      else if ("fromPath" in op) u.set(path, u.path("steps", name, op.fromPath));
      else u.set(path, u.value(op.value));
    }
  }
  for (const name of Object.keys(change.steps ?? {})) {
    if (!(ALL_STEP_NAMES as readonly string[]).includes(name)) throw new TypeError(`unknown step ${name}`);
  }
}

export function tenantConflict(
  tenantId: string,
  current: TenantItem | undefined,
  expected: readonly TenantStatus[] | undefined,
  run?: number,
) {
  if (!current) return new ConflictError(`Tenant ${tenantId} is not registered.`);
  if (run !== undefined && current.run !== run) {
    return new ConflictError(`Tenant ${tenantId} has moved on to run ${current.run}; run ${run} is stale.`);
  }
  const needs = expected ? `; this needs one of: ${expected.join(", ")}` : "";
  return new ConflictError(`Tenant ${tenantId} is ${current.status}${needs}.`);
}
