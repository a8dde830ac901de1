/**
 * Sequence order on AWS. The stream keeps order per item only: event items written by one
 * BatchWriteItem (with retried UnprocessedItems) reach the forwarder, and so the FIFO queue, in
 * any order. So the dispatcher sends a registration's event only once its predecessor is
 * decided (`DispatchOrder`). An event that comes first waits: it is held at the head of its
 * message group for a moment when nothing is behind it, or put back behind its group (a new
 * message) so that its predecessor, queued after it, can pass. Its predecessor is waited for as
 * long as its delivery is pending (retries); one that never arrives (lost, or handled before
 * the gate existed) is given up after MAX_ORDER_WAIT_MS, and the event is sent out of order
 * rather than never.
 */
import type { DispatchOrder } from "../adapters/dynamodb/dispatch-order.ts";
import type { DeliveryMessage } from "./sqs-queue.ts";

/** How long an event waits for a predecessor that has not arrived at all. */
export const MAX_ORDER_WAIT_MS = 10 * 60_000;
/** The longest hold at the head of the group. */
const MAX_HOLD_SECONDS = 20;

export type GateDecision =
  /** Send it (`late`: its predecessor never came). */
  | { kind: "go"; late?: boolean }
  /** Keep it at the head of its group this long (seconds). */
  | { kind: "hold"; seconds: number }
  /** Put this message behind its group instead. */
  | { kind: "requeue"; message: DeliveryMessage };

export interface GateInput {
  message: DeliveryMessage;
  order: DispatchOrder | undefined;
  now: number;
  /** This message was received before (a hold of it ran out). */
  receivedBefore: boolean;
  /** Later messages of its group are in the same batch. */
  moreBehind: boolean;
  /** When SQS first handed this message out (epoch ms). */
  firstReceivedAt: number;
  /** Whether the event before it has a delivery still pending (being retried). */
  predecessorPending: () => Promise<boolean>;
}

/** Whether the event may be sent now, and what to do with it if not. */
export async function orderGate(input: GateInput): Promise<GateDecision> {
  const { message, order } = input;
  if (!order || message.first === undefined || message.replays) return { kind: "go" };
  if (message.sequence <= message.first) return { kind: "go" };
  const decided = await order.decided(message.tenantId, message.first);
  if (decided >= message.sequence - 1) return { kind: "go" };
  const since = message.waitingSince ? Date.parse(message.waitingSince) : input.firstReceivedAt;
  if (input.now - since > MAX_ORDER_WAIT_MS && !(await input.predecessorPending())) {
    return { kind: "go", late: true };
  }
  const deferrals = message.deferrals ?? 0;
  if (!input.moreBehind && !input.receivedBefore) {
    return { kind: "hold", seconds: Math.min(MAX_HOLD_SECONDS, 2 * 2 ** deferrals) };
  }
  return {
    kind: "requeue",
    message: { ...message, deferrals: deferrals + 1, waitingSince: new Date(since).toISOString() },
  };
}

/** After the event's delivery was decided: its successor may go. */
export async function markDecided(order: DispatchOrder | undefined, message: DeliveryMessage): Promise<void> {
  if (!order || message.first === undefined || message.replays) return;
  await order.advance(message.tenantId, message.first, message.sequence);
}
