/**
 * API keys: the lookup item `APIKEY#<sha256>` / `APIKEY` (hash -> principal) and, for partner
 * keys, the listing item `PARTNER#<partnerId>` / `KEY#<keyId>` (to list and revoke by id) and
 * the partner's key count `PARTNER#<partnerId>` / `KEYCOUNT` (`activeKeys`), which enforces the
 * limit: one conditional increment per new key, so concurrent creations cannot pass it.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError } from "../../domain/errors.ts";
import type { ApiKeyInfo, ApiKeyPrincipal, Principal } from "../../domain/store.ts";
import { apiKeyKey, PARTNER_API_KEY_SK_PREFIX, partnerApiKeyKey, partnerKey } from "./keys.ts";
import { isConditionFailure, queryAll, type TableContext } from "./query.ts";

/** The partner's count of active keys (under the partner, apart from the `KEY#` listing items). */
const keyCountKey = (partnerId: string) => ({ pk: partnerKey(partnerId).pk, sk: "KEYCOUNT" });

export class ApiKeyRecords {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  /** `keyHash` is the SHA-256 of the key (hex or base64url); the key itself never reaches the store. */
  async putApiKey(
    keyHash: string,
    principal: Principal,
    now: string,
    meta?: { keyId: string; usageKey?: boolean; maxKeys?: number },
  ): Promise<void> {
    if (!/^(?:[0-9a-f]{64}|[A-Za-z0-9_-]{43})$/.test(keyHash)) {
      throw new TypeError("putApiKey expects the SHA-256 hash of the key, hex or base64url");
    }
    if (principal.role === "partner" && !principal.partnerId)
      throw new TypeError("a partner key needs a partnerId");
    const { client, table } = this.#ctx;
    if (meta && principal.partnerId) {
      if (meta.maxKeys !== undefined && !(await this.#takeKeySlot(principal.partnerId, meta.maxKeys))) {
        throw new ConflictError(
          `Partner ${principal.partnerId} already holds ${meta.maxKeys} keys; revoke one first.`,
        );
      }
      // Listed first: a key that works is always listed, hence revocable.
      try {
        await client.send(
          new PutCommand({
            TableName: table,
            Item: {
              ...partnerApiKeyKey(principal.partnerId, meta.keyId),
              kind: "partnerApiKey",
              keyId: meta.keyId,
              keyHash,
              createdAt: now,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        // A key never listed gives its slot back.
        if (meta.maxKeys !== undefined) await this.#giveKeySlot(principal.partnerId);
        throw err;
      }
    }
    await client.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...apiKeyKey(keyHash),
          kind: "apiKey",
          ...principal,
          createdAt: now,
          ...(meta && { keyId: meta.keyId }),
          ...(meta?.usageKey && { usageKey: true }),
        },
      }),
    );
  }

  async findApiKey(keyHash: string): Promise<ApiKeyPrincipal | undefined> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: apiKeyKey(keyHash), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      role: Item["role"],
      ...(Item["partnerId"] ? { partnerId: Item["partnerId"] } : {}),
      ...(Item["usageKey"] === true ? { usageKey: true } : {}),
    };
  }

  async listApiKeys(partnerId: string): Promise<ApiKeyInfo[]> {
    const items = await queryAll(this.#ctx.client, {
      TableName: this.#ctx.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": partnerKey(partnerId).pk, ":prefix": PARTNER_API_KEY_SK_PREFIX },
      ConsistentRead: true,
    });
    const keys = items.map((item) => ({
      keyId: item["keyId"] as string,
      createdAt: item["createdAt"] as string,
    }));
    return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
  }

  async revokeApiKey(partnerId: string, keyId: string): Promise<boolean> {
    const { client, table } = this.#ctx;
    const { Item } = await client.send(
      new GetCommand({ TableName: table, Key: partnerApiKeyKey(partnerId, keyId), ConsistentRead: true }),
    );
    if (!Item) return false;
    // The lookup item goes first: from this write on, the key authenticates nothing.
    await client.send(new DeleteCommand({ TableName: table, Key: apiKeyKey(Item["keyHash"] as string) }));
    try {
      // Only the revocation that removes the listing item gives its slot back.
      await client.send(
        new DeleteCommand({
          TableName: table,
          Key: partnerApiKeyKey(partnerId, keyId),
          ConditionExpression: "attribute_exists(pk)",
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) return true;
      throw err;
    }
    await this.#giveKeySlot(partnerId);
    return true;
  }

  /**
   * One more active key for the partner, unless it holds `max` already: a conditional
   * increment of its count. A partner from before the count is counted from its listing first
   * (once: a conditional put that only the first writer makes).
   */
  async #takeKeySlot(partnerId: string, max: number): Promise<boolean> {
    const { client, table } = this.#ctx;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: table,
            Key: keyCountKey(partnerId),
            UpdateExpression: "ADD activeKeys :one",
            ConditionExpression: "attribute_exists(pk) AND activeKeys < :max",
            ExpressionAttributeValues: { ":one": 1, ":max": max },
          }),
        );
        return true;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
      const { Item } = await client.send(
        new GetCommand({ TableName: table, Key: keyCountKey(partnerId), ConsistentRead: true }),
      );
      if (Item) return false;
      const listed = (await this.listApiKeys(partnerId)).length;
      try {
        await client.send(
          new PutCommand({
            TableName: table,
            Item: { ...keyCountKey(partnerId), kind: "partnerKeyCount", activeKeys: listed },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    return false;
  }

  async #giveKeySlot(partnerId: string): Promise<void> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: keyCountKey(partnerId),
          UpdateExpression: "ADD activeKeys :minus",
          ConditionExpression: "activeKeys > :zero",
          ExpressionAttributeValues: { ":minus": -1, ":zero": 0 },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
