/**
 * Webhooks of the local runtime: every event the tenant store writes goes to the in-process
 * dispatcher. Receivers on loopback (over http too) only with WEBHOOK_ALLOW_LOOPBACK=true, and
 * never this service's own ports (the API's, the simulator's, the embedded DynamoDB's).
 * Endpoint secrets are stored encrypted (AES-256-GCM) with a key kept in DATA_DIR.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createLocalWebhooks, type LocalWebhooks } from "../../../functions/webhooks/index.ts";
import { keptSecret } from "./data-dir.ts";
import type { Part } from "./parts.ts";

export interface WebhooksPart extends Part {
  webhooks: LocalWebhooks;
}

/** `stop` closes the dispatcher (attempts in flight finish, lagging cursors are written). */
export async function startWebhooks(options: {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  docClient: DynamoDBDocumentClient;
  tableName: string;
  cursorSecret: string;
  retentionDays: number;
  /** This service's own ports, as they become known. */
  ownPorts: readonly number[];
}): Promise<WebhooksPart> {
  const { env } = options;
  const secretKey = Buffer.from(
    await keptSecret(join(options.dataDir, "webhook-secret-key"), () => randomBytes(32).toString("base64")),
    "base64",
  );
  const webhooks = createLocalWebhooks({
    docClient: options.docClient,
    tableName: options.tableName,
    cursorSecret: options.cursorSecret,
    retentionDays: options.retentionDays,
    secretKey,
    allowInsecureLoopback: env["WEBHOOK_ALLOW_LOOPBACK"] === "true",
    refusedLoopbackPorts: () => options.ownPorts,
    ...(env["WEBHOOK_RETRY_SCHEDULE"] !== undefined && { retrySchedule: env["WEBHOOK_RETRY_SCHEDULE"] }),
    ...(env["WEBHOOK_TIMEOUT_MS"] && { timeoutMs: Number(env["WEBHOOK_TIMEOUT_MS"]) }),
  });
  return { webhooks, stop: () => webhooks.dispatcher.close() };
}
