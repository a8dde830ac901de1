/** Partners: `PARTNER#<partnerId>` / `PARTNER`, listed newest first on gsi2 `PARTNERS`. */
import { randomBytes } from "node:crypto";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Page, Partner } from "../../domain/store.ts";
import type { CursorCodec } from "./cursor.ts";
import { ALL_PARTNERS_PK, idFromNewestFirstSortKey, newestFirstSortKey, partnerKey } from "./keys.ts";
import { queryNewestFirst } from "./newest-first.ts";
import type { TableContext } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";

export class PartnerRecords {
  readonly #ctx: TableContext;
  readonly #cursors: CursorCodec;

  constructor(ctx: TableContext, cursors: CursorCodec) {
    this.#ctx = ctx;
    this.#cursors = cursors;
  }

  async createPartner(name: string, now: string): Promise<Partner> {
    const partner: Partner = { partnerId: `p_${randomBytes(10).toString("hex")}`, name, createdAt: now };
    await this.#ctx.client.send(
      new PutCommand({
        TableName: this.#ctx.table,
        Item: {
          ...partnerKey(partner.partnerId),
          kind: "partner",
          ...partner,
          gsi2pk: ALL_PARTNERS_PK,
          gsi2sk: newestFirstSortKey(now, partner.partnerId),
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return partner;
  }

  async getPartner(partnerId: string): Promise<Partner | undefined> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: partnerKey(partnerId), ConsistentRead: true }),
    );
    return Item && toPartner(Item);
  }

  async listPartners(query: { limit: number; cursor?: string }): Promise<Page<Partner>> {
    const page = await queryNewestFirst<Record<string, unknown>>(
      this.#ctx,
      this.#cursors,
      TABLE_INDEXES.all,
      ALL_PARTNERS_PK,
      "partners",
      query,
      (position) => partnerKey(idFromNewestFirstSortKey(position)),
    );
    return { items: page.items.map(toPartner), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }
}

function toPartner(item: Record<string, unknown>): Partner {
  return {
    partnerId: item["partnerId"] as string,
    name: item["name"] as string,
    createdAt: item["createdAt"] as string,
  };
}
