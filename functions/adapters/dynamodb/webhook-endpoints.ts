/**
 * Partners' webhook endpoints: one item per partner, pk `WEBHOOK#<partnerId>`, sk `ENDPOINT`.
 *
 * The endpoint's `secret` is the HMAC key itself: a signature can only be made with it, so it
 * cannot be stored hashed. It is stored encrypted (`functions/webhooks/secret-box.ts`: KMS in
 * AWS, where only the dispatcher may decrypt; AES-GCM with a DATA_DIR key locally), so the
 * table, its stream and its backups hold ciphertext only; a secret written before encryption
 * (`whsec_...` in clear) is still read. This store never decrypts: the dispatcher opens the
 * secret to sign; the API returns it only when created or rotated.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { EventType } from "../../domain/tenant.ts";
import { endpointKey } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";
import { UpdateExpression } from "./update-expression.ts";
import { type EndpointRecord, toEndpoint } from "./webhook-records.ts";

/** Partners remembered without an endpoint, at most (then all are forgotten). */
const MISSING_REMEMBERED_MAX = 10_000;

/** What a PUT of the endpoint changes. */
export interface EndpointChange {
  url: string;
  events: EventType[];
  updatedAt: string;
  rotate?: { secret: string; previousExpiresAt: string };
}

export class DynamoWebhookEndpoints {
  readonly #ctx: TableContext;
  readonly #rememberMissingMs: number;
  /** Partners read without an endpoint: until when, and at which generation of endpoint writes. */
  readonly #missing = new Map<string, { until: number; generation: number }>();
  /** Bumped before and after every endpoint write through this instance. */
  #generation = 0;

  /** `rememberMissingMs`: see DynamoWebhookStoreOptions.rememberMissingEndpointsMs. */
  constructor(ctx: TableContext, rememberMissingMs = 0) {
    this.#ctx = ctx;
    this.#rememberMissingMs = rememberMissingMs;
  }

  /**
   * True when the partner was read without an endpoint recently and no endpoint was written
   * through this instance since (`rememberMissingEndpointsMs`); false when unknown.
   */
  knownWithoutEndpoint(partnerId: string): boolean {
    const missing = this.#missing.get(partnerId);
    if (!missing) return false;
    if (missing.generation === this.#generation && Date.now() < missing.until) return true;
    this.#missing.delete(partnerId);
    return false;
  }

  /** Runs an endpoint write; whatever was remembered as missing is forgotten before and after. */
  async #endpointWrite<T>(write: () => Promise<T>): Promise<T> {
    this.#forgetMissing();
    try {
      return await write();
    } finally {
      this.#forgetMissing();
    }
  }

  #forgetMissing(): void {
    this.#generation++;
    this.#missing.clear();
  }

  async get(partnerId: string): Promise<EndpointRecord | undefined> {
    if (this.#rememberMissingMs > 0 && this.knownWithoutEndpoint(partnerId)) return undefined;
    const generation = this.#generation;
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: endpointKey(partnerId), ConsistentRead: true }),
    );
    // Remembered only when no endpoint write started or ended while reading.
    if (!Item && this.#rememberMissingMs > 0 && generation === this.#generation) {
      if (this.#missing.size >= MISSING_REMEMBERED_MAX) this.#missing.clear();
      this.#missing.set(partnerId, { until: Date.now() + this.#rememberMissingMs, generation });
    }
    return Item && toEndpoint(Item);
  }

  /** Creates the endpoint; false when the partner already has one. */
  async create(record: EndpointRecord): Promise<boolean> {
    try {
      await this.#endpointWrite(() =>
        this.#ctx.client.send(
          new PutCommand({
            TableName: this.#ctx.table,
            Item: { ...endpointKey(record.partnerId), kind: "webhookEndpoint", ...record },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Replaces url/events (and the secret when given), enables the endpoint again. Conditional
   * on the endpoint existing; undefined when it does not (deleted meanwhile).
   */
  async replace(partnerId: string, change: EndpointChange): Promise<EndpointRecord | undefined> {
    const u = new UpdateExpression();
    u.set(u.path("url"), u.value(change.url));
    u.set(u.path("events"), u.value(change.events));
    u.set(u.path("updatedAt"), u.value(change.updatedAt));
    u.remove(u.path("disabledAt"));
    u.remove(u.path("disabledReason"));
    if (change.rotate) {
      // Operands read the item before the write: the old secret keeps signing during the overlap.
      u.set(u.path("previousSecret"), u.path("secret"));
      u.set(u.path("secret"), u.value(change.rotate.secret));
      u.set(u.path("previousSecretExpiresAt"), u.value(change.rotate.previousExpiresAt));
    }
    u.condition("attribute_exists(pk)");
    try {
      const { Attributes } = await this.#endpointWrite(() =>
        this.#ctx.client.send(u.command(this.#ctx.table, endpointKey(partnerId))),
      );
      return Attributes && toEndpoint(Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /** False when there was none. */
  async delete(partnerId: string): Promise<boolean> {
    const { Attributes } = await this.#endpointWrite(() =>
      this.#ctx.client.send(
        new DeleteCommand({
          TableName: this.#ctx.table,
          Key: endpointKey(partnerId),
          ReturnValues: "ALL_OLD",
        }),
      ),
    );
    return Attributes !== undefined;
  }

  /** Disables the endpoint, unless its URL changed meanwhile (the partner fixed it). */
  async disable(partnerId: string, url: string, reason: string, now: string): Promise<void> {
    try {
      await this.#endpointWrite(() =>
        this.#ctx.client.send(
          new UpdateCommand({
            TableName: this.#ctx.table,
            Key: endpointKey(partnerId),
            UpdateExpression: "SET #at = :now, #reason = :reason",
            ConditionExpression: "#url = :url",
            ExpressionAttributeNames: { "#url": "url", "#at": "disabledAt", "#reason": "disabledReason" },
            ExpressionAttributeValues: { ":now": now, ":reason": reason, ":url": url },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
