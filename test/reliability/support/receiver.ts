/**
 * A partner's webhook receiver on 127.0.0.1: verifies every delivery with the Standard
 * Webhooks library, records what it accepted in arrival order, and can misbehave on purpose
 * (answer 503, or take the delivery and drop the connection before answering, so the sender
 * must send it again).
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type { ListedEvent } from "./tenants.ts";

/** What the receiver does with the `attempt`-th arrival (1-based) of an event. */
export type ReceiverBehaviour = "accept" | "reject" | "take-and-drop";

export interface Received {
  webhookId: string;
  tenantId: string;
  sequence: number;
  type: string;
  status: string;
  /** The signature verified with the partner's secret. */
  valid: boolean;
}

export interface Receiver {
  url: string;
  /** The partner's `whsec_` secret; deliveries before it is set count as invalid. */
  setSecret(secret: string): void;
  /** Deliveries the receiver took (accepted, or taken before dropping), in arrival order. */
  readonly received: Received[];
  /** Arrivals answered 503 (never taken). */
  readonly rejected: number;
  close(): Promise<void>;
}

/**
 * A deterministic misbehaviour: the first arrival of about `rejectShare` of the events is
 * answered 503, of `dropShare` taken and dropped; every later arrival is accepted.
 */
export function flakyReceiver(rejectShare: number, dropShare: number) {
  return (webhookId: string, attempt: number): ReceiverBehaviour => {
    if (attempt > 1) return "accept";
    const r = createHash("sha256").update(webhookId).digest().readUInt32BE(0) / 2 ** 32;
    if (r < rejectShare) return "reject";
    if (r < rejectShare + dropShare) return "take-and-drop";
    return "accept";
  };
}

export async function startReceiver(
  behaviour: (webhookId: string, attempt: number) => ReceiverBehaviour = () => "accept",
): Promise<Receiver> {
  let webhook: Webhook | undefined;
  const received: Received[] = [];
  const arrivals = new Map<string, number>();
  let rejected = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
      );
      const webhookId = headers["webhook-id"] ?? "";
      const attempt = (arrivals.get(webhookId) ?? 0) + 1;
      arrivals.set(webhookId, attempt);
      const action = behaviour(webhookId, attempt);
      if (action === "reject") {
        rejected++;
        res.writeHead(503).end();
        return;
      }
      let valid = false;
      try {
        webhook?.verify(body, headers);
        valid = webhook !== undefined;
      } catch {
        valid = false;
      }
      let payload: { type?: string; data?: { tenantId?: string; sequence?: number; status?: string } } = {};
      try {
        payload = JSON.parse(body);
      } catch {
        valid = false;
      }
      received.push({
        webhookId,
        tenantId: String(payload.data?.tenantId),
        sequence: Number(payload.data?.sequence),
        type: String(payload.type),
        status: String(payload.data?.status),
        valid,
      });
      if (action === "take-and-drop") req.socket.destroy();
      else res.writeHead(valid ? 204 : 400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    setSecret: (secret) => {
      webhook = new Webhook(secret);
    },
    received,
    get rejected() {
      return rejected;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface DeliveryReport {
  /** Events (by tenant and sequence) never received with a valid signature. */
  lost: string[];
  /** Received deliveries whose signature did not verify. */
  invalid: number;
  /** Arrivals of an event already received (same webhook-id). */
  duplicates: number;
  /** A tenant's delivery that arrived after one with a higher sequence. */
  outOfOrder: string[];
  /** Received deliveries that differ from the listed event of the same id. */
  mismatched: string[];
  /** Received ids that no listed event has. */
  unknown: string[];
}

/** Compares what the receiver got with every tenant's listed events. */
export function compareDeliveries(
  events: Map<string, ListedEvent[]>,
  received: readonly Received[],
): DeliveryReport {
  const report: DeliveryReport = {
    lost: [],
    invalid: 0,
    duplicates: 0,
    outOfOrder: [],
    mismatched: [],
    unknown: [],
  };
  const byId = new Map<string, ListedEvent>();
  for (const list of events.values()) for (const e of list) byId.set(e.id, e);
  const seen = new Set<string>();
  const highest = new Map<string, number>();
  for (const r of received) {
    if (!r.valid) report.invalid++;
    if (seen.has(r.webhookId)) report.duplicates++;
    else if (r.valid) seen.add(r.webhookId);
    const listed = byId.get(r.webhookId);
    if (!listed) {
      if (events.has(r.tenantId)) report.unknown.push(`${r.tenantId}#${r.sequence} (${r.webhookId})`);
      continue;
    }
    if (
      listed.type !== r.type ||
      listed.data.sequence !== r.sequence ||
      listed.data.tenantId !== r.tenantId ||
      listed.data.status !== r.status
    ) {
      report.mismatched.push(`${r.tenantId}#${r.sequence}`);
    }
    const top = highest.get(r.tenantId) ?? 0;
    if (r.sequence < top) report.outOfOrder.push(`${r.tenantId}: #${r.sequence} after #${top}`);
    highest.set(r.tenantId, Math.max(top, r.sequence));
  }
  for (const [tenantId, list] of events) {
    for (const e of list) if (!seen.has(e.id)) report.lost.push(`${tenantId}#${e.data.sequence} ${e.type}`);
  }
  return report;
}
