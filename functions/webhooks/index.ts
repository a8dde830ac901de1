/**
 * Wiring of partner webhooks for the two runtimes. The API gets a `WebhookService`; the
 * local runtime also gets the in-process dispatcher to plug into the tenant store.
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import {
  createLocalDispatcher,
  type LocalDispatcher,
  type LocalDispatcherOptions,
} from "./local-dispatcher.ts";
import { LocalSecretBox, secretBoxFromEnv } from "./secret-box.ts";
import { PartnerWebhookService } from "./service.ts";
import { SqsDeliveryQueue } from "./sqs-queue.ts";
import { LOOPBACK_HINT, ownPortsFromEnv } from "./url-policy.ts";

export type { LocalDispatcher, RecoveryReport } from "./local-dispatcher.ts";
export { createLocalDispatcher } from "./local-dispatcher.ts";
export { PartnerWebhookService } from "./service.ts";

/**
 * AWS (the API function): the service on the table, replays sent to the delivery queue.
 * Env: TABLE_NAME, WEBHOOK_QUEUE_URL (the function needs sqs:SendMessage on the queue).
 *
 * @example
 * const webhooks = webhookServiceFromEnv({ docClient }); // module scope
 * export const handler = createApi({ store, engine, webhooks, ... });
 */
export function webhookServiceFromEnv(options: {
  docClient: DynamoDBDocumentClient;
  sqsClient?: SQSClient;
  cursorSecret?: string;
  env?: NodeJS.ProcessEnv;
}): PartnerWebhookService {
  const env = options.env ?? process.env;
  const tableName = env["TABLE_NAME"];
  const queueUrl = env["WEBHOOK_QUEUE_URL"];
  if (!tableName || !queueUrl) throw new Error("TABLE_NAME and WEBHOOK_QUEUE_URL must be set");
  // The service's own ports on this machine (none in a deployment): read once.
  const ownPorts = ownPortsFromEnv(env);
  const webhookStore = new DynamoWebhookStore({
    client: options.docClient,
    tableName,
    ...(options.cursorSecret !== undefined && { cursorSecret: options.cursorSecret }),
  });
  return new PartnerWebhookService({
    webhookStore,
    replays: new SqsDeliveryQueue({ client: options.sqsClient ?? new SQSClient({}), queueUrl }),
    // Encrypt only: the API function may seal new secrets, never open them (WEBHOOK_SECRET_KEY_ID).
    secrets: secretBoxFromEnv(env),
    // Never set by the stack: the AWS form run on one machine (`npm run start:aws`) passes them.
    allowInsecureLoopback: env["WEBHOOK_ALLOW_LOOPBACK"] === "true",
    refusedLoopbackPorts: () => ownPorts,
    // On one machine (the form names its own ports), refusals name the setting, as `npm start`'s do.
    ...(ownPorts.length > 0 && { refusedHint: LOOPBACK_HINT }),
  });
}

export interface LocalWebhooks {
  service: PartnerWebhookService;
  dispatcher: LocalDispatcher & { attachStore(store: NonNullable<LocalDispatcherOptions["store"]>): void };
  webhookStore: DynamoWebhookStore;
}

/**
 * The local runtime: service and in-process dispatcher on one table; http and loopback
 * receivers allowed.
 *
 * @example
 * const webhooks = createLocalWebhooks({ docClient, tableName, cursorSecret });
 * const store = new DynamoTenantStore({ client: docClient, tableName, cursorSecret, onEvents: webhooks.dispatcher.enqueue });
 * webhooks.dispatcher.attachStore(store);
 * await webhooks.dispatcher.recover(); // before the API serves and before other start-up recovery
 * const api = createApi({ store, engine, webhooks: webhooks.service, ... });
 * // on shutdown: await webhooks.dispatcher.close();
 */
export function createLocalWebhooks(
  options: Omit<LocalDispatcherOptions, "webhookStore" | "docClient" | "tableName"> & {
    docClient: DynamoDBDocumentClient;
    tableName: string;
    cursorSecret?: string;
    /** TTL of settled deliveries. @default `EVENT_RETENTION_DAYS` (90) */
    retentionDays?: number;
    /** 32 bytes: endpoint secrets are stored AES-256-GCM encrypted with it. @default clear (tests) */
    secretKey?: Buffer;
  },
): LocalWebhooks {
  const { docClient, tableName, cursorSecret, retentionDays, secretKey, ...dispatcherOptions } = options;
  const secrets = secretKey ? new LocalSecretBox(secretKey) : undefined;
  const webhookStore = new DynamoWebhookStore({
    client: docClient,
    tableName,
    ...(cursorSecret !== undefined && { cursorSecret }),
    ...(retentionDays !== undefined && { retentionDays }),
    // The service below is this process's only writer of endpoints, and writes through this
    // instance: events of partners without an endpoint cost no read (at most 5 s stale should
    // another process write endpoints on the same table, e.g. a shared DYNAMODB_ENDPOINT).
    rememberMissingEndpointsMs: 5_000,
  });
  const allowInsecureLoopback = options.allowInsecureLoopback ?? true;
  const dispatcher = createLocalDispatcher({
    ...dispatcherOptions,
    webhookStore,
    allowInsecureLoopback,
    ...(secrets && { secrets }),
  });
  const service = new PartnerWebhookService({
    webhookStore,
    ...(secrets && { secrets }),
    replays: dispatcher,
    allowInsecureLoopback,
    // Only the local runtime has the setting: its refusals of http and loopback name it.
    refusedHint: LOOPBACK_HINT,
    ...(options.refusedLoopbackPorts && { refusedLoopbackPorts: options.refusedLoopbackPorts }),
    ...(options.resolve && { resolve: options.resolve }),
  });
  return { service, dispatcher, webhookStore };
}
