/**
 * The one UpdateItem of a registration: a new tenant item (`queued`, `run` 1), or the
 * replacement of an `offboarded` registration (`run` + 1, the event sequence continued), or,
 * on a change of owner, the previous owner's record at its `run` with what the service knows
 * of the tenant kept.
 */
import type { registrationCount } from "../../domain/partner-sequence.ts";
import type { OnboardingRequest } from "../../domain/tenant.ts";
import { HAND_OVER_STEP, initialSteps } from "../../domain/tenant.ts";
import { setScheduleKeys } from "./in-flight-due.ts";
import { newestFirstSortKey, tenantListKeys } from "./keys.ts";
import { TABLE_KEYS } from "./schema.ts";
import {
  OWNED_ATTRIBUTES,
  type RegisterOptions,
  recordIncarnation,
  SERVICE_KNOWLEDGE,
} from "./tenant-item.ts";
import { UpdateExpression } from "./update-expression.ts";

export interface Registration {
  partnerId: string;
  request: OnboardingRequest;
  now: string;
  createdAt: string;
  registrationId: string;
  /** The newest event sequence of the tenant's earlier registrations (their items outlive it). */
  floor: number;
  /** How many group parts the request's groups were stored in (0: in the item). */
  groupsParts: number;
  takeOver: RegisterOptions["takeOver"];
  /**
   * Who held the tenant's record before (read just before; the registration requires that
   * partner still): where the partner's sequence counts from (functions/domain/partner-sequence.ts).
   */
  previousPartnerId: string | undefined;
  count: ReturnType<typeof registrationCount>;
}

export function registrationCommand(registration: Registration): UpdateExpression {
  const { partnerId, request, now, createdAt, registrationId, floor, groupsParts, takeOver } = registration;
  const { previousPartnerId, count } = registration;
  const { tenantId } = request;
  const u = new UpdateExpression();
  const steps: Record<string, unknown> = Object.fromEntries(
    initialSteps(request).map((s) => [s.name, { status: s.status, initialStatus: s.status, attempts: 0 }]),
  );
  // A change of owner: the previous owner's journaling stops first (see HAND_OVER_STEP).
  if (takeOver) steps[HAND_OVER_STEP] = { status: "pending", initialStatus: "pending", attempts: 0 };
  const fields: Record<string, unknown> = {
    kind: "tenant",
    tenantId,
    partnerId,
    registrationId,
    incarnation: recordIncarnation(registrationId),
    customerName: request.customerName,
    region: request.region,
    outboundGateway: request.outboundGateway,
    ndrAddress: request.ndrAddress,
    status: "queued",
    steps,
    createdAt,
    updatedAt: now,
    lastChangeId: registrationId,
    ...tenantListKeys(partnerId, tenantId, newestFirstSortKey(createdAt, tenantId)),
  };
  // A change of owner keeps what the service knows of the tenant (see `RegisterOptions`).
  if (!takeOver) fields["adopted"] = { connectors: {}, journalRules: {} };
  if (!takeOver) fields["objectIds"] = { journalRules: {}, groups: {} };
  if (groupsParts) fields["groupsParts"] = groupsParts;
  else if (request.groups) fields["groups"] = request.groups;
  if (request.onDrift) fields["onDrift"] = request.onDrift;
  if (request.approval) fields["approval"] = request.approval;
  for (const [name, value] of Object.entries(fields)) u.set(u.path(name), u.value(value));
  // Queued: the stranded-run sweep looks at it if its run never starts (in-flight-due.ts).
  setScheduleKeys(u, tenantId, "queued", now);
  const removed = [
    "groups",
    "groupsParts",
    "groupsPartsId",
    "error",
    "consentUrl",
    "missingPermissions",
    "previousNdrTo",
    "ndrAddressKept",
    "customizationEnabledAt",
    "ndrAddressSet",
    TABLE_KEYS.ttl,
    "ownedMembers",
    "onDrift",
    "approval",
    "plan",
    "approvedPlan",
    "drift",
    "requestedBy",
    "remediations",
    ...Object.values(OWNED_ATTRIBUTES),
  ];
  const kept = new Set<string>(takeOver ? SERVICE_KNOWLEDGE : []);
  for (const name of removed) if (!(name in fields) && !kept.has(name)) u.remove(u.path(name));
  const run = u.path("run");
  const seq = u.path("seq");
  u.set(run, `if_not_exists(${run}, ${u.value(0)}) + ${u.value(1)}`);
  u.set(seq, `if_not_exists(${seq}, ${u.value(floor)})`);
  u.set(u.path("firstSequence"), `if_not_exists(${seq}, ${u.value(floor)}) + ${u.value(1)}`);
  const offset = u.path("sequenceOffset");
  u.set(
    offset,
    count.samePartner
      ? `if_not_exists(${offset}, ${u.value(0)})`
      : `if_not_exists(${seq}, ${u.value(floor)}) - ${u.value(count.seen)}`,
  );
  if (Object.keys(count.partnerSequences).length > 0)
    u.set(u.path("partnerSequences"), u.value(count.partnerSequences));
  // Events of the previous registration are flushed first: their items belong to that partner.
  const outbox = u.path("outbox");
  const replaceable =
    `${u.path("status")} = ${u.value("offboarded")} AND ` +
    `(attribute_not_exists(${outbox}) OR size(${outbox}) = ${u.value(0)})` +
    (previousPartnerId !== undefined ? ` AND ${u.path("partnerId")} = ${u.value(previousPartnerId)}` : "");
  u.condition(
    takeOver
      ? `${replaceable} AND ${run} = ${u.value(takeOver.run)}`
      : `attribute_not_exists(${u.path("pk")}) OR (${replaceable})`,
  );

  return u;
}
