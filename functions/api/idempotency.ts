/**
 * `Idempotency-Key` for `POST /v1/tenants`, on Powertools idempotency.
 *
 * - Key: SHA-256 of `[partnerId, Idempotency-Key]`: two partners never share a record.
 * - Payload check: SHA-256 of the validated, normalised body; another body with the same key is
 *   a 422 (`IdempotencyKeyReusedError`).
 * - The first response (status, headers, body) is stored for 24 hours and returned to retries,
 *   with `Idempotent-Replayed: true`. A call that throws stores nothing (Powertools deletes the
 *   in-progress record), so a retry runs again.
 * - A duplicate arriving while the first is in progress polls with backoff for up to `waitMs`
 *   and then returns the first response; if the first is still running it gets a 409 with
 *   `Retry-After` (`IdempotencyInProgressError`).
 *
 * Records live in the service's one table: `pk = IDEMPOTENCY#<prefix>#<hash>`, `sk = IDEMPOTENCY`
 * (one partition per key, not Powertools' single static partition), expiring through the table's
 * TTL attribute.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
  IdempotencyRecordStatus,
  IdempotencyValidationError,
  makeIdempotent,
} from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { BasePersistenceLayer, type IdempotencyRecord } from "@aws-lambda-powertools/idempotency/persistence";
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context } from "aws-lambda";
import { TABLE_KEYS } from "../adapters/dynamodb/schema.ts";
import { IdempotencyInProgressError, IdempotencyKeyReusedError } from "./errors.ts";

/** A response as stored and replayed. */
export interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Powertools' DynamoDB layer on our table's `pk`/`sk`/`expiresAt`, one partition per key. */
export class TableIdempotencyLayer extends DynamoDBPersistenceLayer {
  constructor(options: { client: DynamoDBClient; tableName: string }) {
    super({
      tableName: options.tableName,
      awsSdkV3Client: options.client,
      keyAttr: TABLE_KEYS.partitionKey,
      sortKeyAttr: TABLE_KEYS.sortKey,
      expiryAttr: TABLE_KEYS.ttl,
    });
  }

  protected override getKey(idempotencyKey: string): Record<string, AttributeValue> {
    return {
      [TABLE_KEYS.partitionKey]: { S: `IDEMPOTENCY#${idempotencyKey}` },
      [TABLE_KEYS.sortKey]: { S: "IDEMPOTENCY" },
    };
  }
}

/**
 * Records in process memory, with the conditions of the DynamoDB layer. For a single process
 * only (no table configured); records are lost on restart.
 */
export class MemoryIdempotencyLayer extends BasePersistenceLayer {
  readonly #records = new Map<string, IdempotencyRecord>();

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const record = this.#records.get(idempotencyKey);
    if (!record) throw new IdempotencyItemNotFoundError();
    return record;
  }

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const existing = this.#records.get(record.idempotencyKey);
    const now = Date.now();
    const takeable =
      !existing ||
      (existing.expiryTimestamp !== undefined && existing.expiryTimestamp < now / 1000) ||
      (existing.getStatus() === IdempotencyRecordStatus.INPROGRESS &&
        existing.inProgressExpiryTimestamp !== undefined &&
        existing.inProgressExpiryTimestamp < now);
    if (!takeable) {
      throw new IdempotencyItemAlreadyExistsError(`record exists: ${record.idempotencyKey}`, existing);
    }
    this.#records.set(record.idempotencyKey, record);
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    this.#records.set(record.idempotencyKey, record);
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.#records.delete(record.idempotencyKey);
  }
}

export interface IdempotentRequestsOptions {
  persistence: BasePersistenceLayer;
  /** How long a first response is replayed. @default 86_400 (24 hours) */
  expiresAfterSeconds?: number;
  /** How long a duplicate waits for an in-progress first request before its 409. @default 10_000 */
  waitMs?: number;
  /** In-progress lock when the Lambda context cannot tell the remaining time. @default 30_000 */
  defaultLockMs?: number;
}

/** Runs an operation at most once per (partner, Idempotency-Key). */
export class IdempotentRequests {
  readonly #persistence: BasePersistenceLayer;
  readonly #expiresAfterSeconds: number;
  readonly #waitMs: number;
  readonly #defaultLockMs: number;

  constructor(options: IdempotentRequestsOptions) {
    this.#persistence = options.persistence;
    this.#expiresAfterSeconds = options.expiresAfterSeconds ?? 86_400;
    this.#waitMs = options.waitMs ?? 10_000;
    this.#defaultLockMs = options.defaultLockMs ?? 30_000;
  }

  /**
   * Runs `operation` once for the key, or returns the stored first response (`replayed: true`).
   * Throws IdempotencyKeyReusedError (422) and IdempotencyInProgressError (409).
   */
  async run(
    request: { scope: string; partnerId: string; key: string; body: unknown },
    context: Partial<Context> | undefined,
    operation: () => Promise<StoredResponse>,
  ): Promise<{ response: StoredResponse; replayed: boolean }> {
    let executed = false;
    const remaining = context?.getRemainingTimeInMillis?.bind(context);
    // One config per request: Powertools keeps the Lambda context on it, and the local runtime
    // serves concurrent requests from one process.
    const config = new IdempotencyConfig({
      eventKeyJmesPath: "[partnerId, key]",
      payloadValidationJmesPath: "body",
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: this.#expiresAfterSeconds,
      hashFunction: "sha256",
      lambdaContext: {
        getRemainingTimeInMillis: () => remaining?.() ?? this.#defaultLockMs,
      } as Context,
    });
    const once = makeIdempotent(
      async (_payload: { partnerId: string; key: string; body: unknown }) => {
        executed = true;
        return operation();
      },
      { persistenceStore: this.#persistence, config, keyPrefix: request.scope, dataIndexArgument: 0 },
    );
    const payload = { partnerId: request.partnerId, key: request.key, body: request.body };
    const deadline = Date.now() + this.#waitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const response = (await once(payload)) as StoredResponse;
        return { response, replayed: !executed };
      } catch (err) {
        if (err instanceof IdempotencyValidationError) throw new IdempotencyKeyReusedError();
        if (!(err instanceof IdempotencyAlreadyInProgressError)) throw err;
        const pause = Math.min(1_000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);
        if (Date.now() + pause > deadline) throw new IdempotencyInProgressError(1);
        await sleep(pause);
      }
    }
  }
}
