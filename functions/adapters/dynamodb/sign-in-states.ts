/**
 * Records of consent sign-in states (the `SignInStates` port): `SIGNIN#<nonce>` / `SIGNIN`
 * with the hash of the browser's id, the partner, the tenant and the expiry (ms, and the
 * table's TTL in seconds). Used once: a conditional delete that matches browser, partner,
 * tenant and expiry succeeds for one caller only.
 */
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { SignInRecord, SignInStates } from "../../domain/consent-browser.ts";
import { signInStateKey } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";
import { TABLE_KEYS } from "./schema.ts";

export class DynamoSignInStates implements SignInStates {
  readonly #ctx: TableContext;

  constructor(options: { client: TableContext["client"]; tableName: string }) {
    this.#ctx = { client: options.client, table: options.tableName };
  }

  async issue(nonce: string, record: SignInRecord, expiresAt: Date): Promise<void> {
    await this.#ctx.client.send(
      new PutCommand({
        TableName: this.#ctx.table,
        Item: {
          ...signInStateKey(nonce),
          kind: "signInState",
          browser: record.browser,
          partnerId: record.partnerId,
          tenantId: record.tenantId,
          expiresAtMs: expiresAt.getTime(),
          [TABLE_KEYS.ttl]: Math.ceil(expiresAt.getTime() / 1000) + 60,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async consume(nonce: string, record: SignInRecord, now: Date): Promise<boolean> {
    try {
      await this.#ctx.client.send(
        new DeleteCommand({
          TableName: this.#ctx.table,
          Key: signInStateKey(nonce),
          ConditionExpression:
            "browser = :browser AND partnerId = :partnerId AND tenantId = :tenantId AND expiresAtMs > :now",
          ExpressionAttributeValues: {
            ":browser": record.browser,
            ":partnerId": record.partnerId,
            ":tenantId": record.tenantId,
            ":now": now.getTime(),
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}
