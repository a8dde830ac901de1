/**
 * A partner's key limit (10) holds under concurrent creations: the count is one conditional
 * write per key, not a count then an insert. Through the composed API on dynalite.
 */
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_KEYS_PER_PARTNER } from "../functions/domain/partners.ts";
import { startTestApi, type TestApi } from "./support/api.ts";

let t: TestApi;

beforeAll(async () => {
  t = await startTestApi();
});

const keysOf = async (partnerId: string) =>
  (await t.call("GET", `/v1/partners/${partnerId}/keys`, { key: t.opsKey })).body.items as {
    keyId: string;
  }[];
const createKey = (partnerId: string) => t.call("POST", `/v1/partners/${partnerId}/keys`, { key: t.opsKey });

describe("the key limit under concurrency", () => {
  it("14 concurrent creations leave 10 keys: 9 created, 5 refused", async () => {
    const p = await t.newPartner("Concurrent keys");
    const answers = await Promise.all(Array.from({ length: 14 }, () => createKey(p.partnerId)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX_KEYS_PER_PARTNER - 1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(5);
    expect(await keysOf(p.partnerId)).toHaveLength(MAX_KEYS_PER_PARTNER);
  });

  it("a revoked key gives its slot back once, even when revoked twice at once", async () => {
    const p = await t.newPartner("Revoking keys");
    for (let i = 1; i < MAX_KEYS_PER_PARTNER; i++) expect((await createKey(p.partnerId)).status).toBe(201);
    expect((await createKey(p.partnerId)).status).toBe(409);
    const [first] = await keysOf(p.partnerId);
    const revoke = () =>
      t.call("DELETE", `/v1/partners/${p.partnerId}/keys/${first!.keyId}`, { key: t.opsKey });
    const revoked = (await Promise.all([revoke(), revoke()])).map((r) => r.status);
    expect(revoked).toContain(204);
    const again = await Promise.all([createKey(p.partnerId), createKey(p.partnerId)]);
    expect(again.map((a) => a.status).sort()).toEqual([201, 409]);
    expect(await keysOf(p.partnerId)).toHaveLength(MAX_KEYS_PER_PARTNER);
  });

  it("a partner whose keys were made before the count is counted from its keys", async () => {
    const p = await t.newPartner("Keys from before");
    for (let i = 1; i < MAX_KEYS_PER_PARTNER; i++) expect((await createKey(p.partnerId)).status).toBe(201);
    // The previous release kept no count.
    await t.docClient.send(
      new DeleteCommand({ TableName: t.tableName, Key: { pk: `PARTNER#${p.partnerId}`, sk: "KEYCOUNT" } }),
    );
    const answers = await Promise.all([createKey(p.partnerId), createKey(p.partnerId)]);
    expect(answers.map((a) => a.status)).toEqual([409, 409]);
    expect(await keysOf(p.partnerId)).toHaveLength(MAX_KEYS_PER_PARTNER);
  });
});
