/** A partner's webhook endpoint on loopback for the end-to-end suites: what it received, in order. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { FormHandle, Json } from "./form.ts";

export interface WebhookReceiver {
  /** Every body received so far (parsed), in arrival order. */
  received: Json[];
  close(): void;
}

/** Listens on a free loopback port, answers 204, and registers itself as the partner's webhook. */
export async function receiveWebhooks(rt: FormHandle, partnerKey: string): Promise<WebhookReceiver> {
  const received: Json[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const answer = await rt.call("PUT", "/v1/webhook", { key: partnerKey, body: { url } });
  if (answer.status !== 200) throw new Error(`webhook not registered: ${answer.status}`);
  return { received, close: () => server.close() };
}
