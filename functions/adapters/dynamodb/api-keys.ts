/**
 * API keys: the lookup item `APIKEY#<sha256>` / `APIKEY` (hash -> principal) and, for partner
 * keys, the listing item `PARTNER#<partnerId>` / `KEY#<keyId>` (to list and revoke by id).
 */
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { ApiKeyInfo, ApiKeyPrincipal, Principal } from "../../domain/store.ts";
import { apiKeyKey, PARTNER_API_KEY_SK_PREFIX, partnerApiKeyKey, partnerKey } from "./keys.ts";
import { queryAll, type TableContext } from "./query.ts";

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
    meta?: { keyId: string; usageKey?: boolean },
  ): Promise<void> {
    if (!/^(?:[0-9a-f]{64}|[A-Za-z0-9_-]{43})$/.test(keyHash)) {
      throw new TypeError("putApiKey expects the SHA-256 hash of the key, hex or base64url");
    }
    if (principal.role === "partner" && !principal.partnerId)
      throw new TypeError("a partner key needs a partnerId");
    const { client, table } = this.#ctx;
    if (meta && principal.partnerId) {
      // Listed first: a key that works is always listed, hence revocable.
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
    await client.send(new DeleteCommand({ TableName: table, Key: partnerApiKeyKey(partnerId, keyId) }));
    return true;
  }
}
