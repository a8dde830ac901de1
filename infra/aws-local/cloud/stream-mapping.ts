/**
 * The DynamoDB stream's event source mapping (AWS::Lambda::EventSourceMapping on a table's
 * stream), over DynamoDB Local's Streams API: each shard read in order from StartingPosition,
 * records kept when a FilterCriteria pattern matches (the others are dropped, as Lambda drops
 * them), batches of up to BatchSize; on a function error the batch is retried (halved when
 * BisectBatchOnFunctionError), up to MaximumRetryAttempts, then its description goes to the
 * OnFailure destination and the shard moves on; `batchItemFailures` (ReportBatchItemFailures)
 * checkpoints before the first failed record. Checkpoints are kept in DATA_DIR.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Invoke } from "../contracts.ts";
import type { DynamoDbLocal } from "./dynamodb.ts";
import { matchesAny } from "./filter.ts";

export interface StreamMappingOptions {
  db: DynamoDbLocal;
  invoke: Invoke;
  functionRef: string;
  tableName: string;
  /** The stream ARN as the template names it (records' eventSourceARN). */
  streamArn: string;
  batchSize: number;
  startingPosition: string;
  filters?: { Pattern: string }[];
  bisect: boolean;
  maxRetries: number;
  reportBatchItemFailures: boolean;
  onFailure?: (record: object) => void;
  dataDir: string;
  log: (line: string) => void;
}

type StreamRecord = {
  eventID: string;
  eventName: string;
  dynamodb: { SequenceNumber: string } & Record<string, unknown>;
} & Record<string, unknown>;
type ShardState = { after?: string; closed?: boolean };
type Checkpoints = { stream: string; shards: Record<string, ShardState> };
type Failure = { itemIdentifier: string };

export function startStreamMapping(o: StreamMappingOptions): { close(): Promise<void> } {
  const file = join(o.dataDir, `stream-checkpoints-${o.tableName}.json`);
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (!running) return;
    timer = setTimeout(() => {
      current = pollStream(o, file, () => running)
        .catch((err: unknown) => o.log(`stream mapping: ${err instanceof Error ? err.message : String(err)}`))
        .finally(schedule);
    }, 100);
  };
  schedule();
  return {
    close: async () => {
      running = false;
      clearTimeout(timer);
      await current;
    },
  };
}

function saveCheckpoints(file: string, c: Checkpoints): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(c));
  renameSync(`${file}.tmp`, file);
}

/** One pass over the table's stream: every open shard read from its checkpoint to its end. */
async function pollStream(o: StreamMappingOptions, file: string, running: () => boolean): Promise<void> {
  const { StreamArn } =
    (
      await o.db.call<{ Streams: { StreamArn: string }[] }>("DynamoDBStreams_20120810.ListStreams", {
        TableName: o.tableName,
      })
    ).Streams[0] ?? {};
  if (!StreamArn) return;
  let c: Checkpoints = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as Checkpoints)
    : { stream: StreamArn, shards: {} };
  if (c.stream !== StreamArn) c = { stream: StreamArn, shards: {} };
  const { StreamDescription } = await o.db.call<{
    StreamDescription: { Shards: { ShardId: string; ParentShardId?: string }[] };
  }>("DynamoDBStreams_20120810.DescribeStream", { StreamArn });
  for (const shard of StreamDescription.Shards) {
    c.shards[shard.ShardId] ??= {};
    const state = c.shards[shard.ShardId]!;
    if (state.closed) continue;
    await readShard(o, StreamArn, shard.ShardId, state, () => saveCheckpoints(file, c), running);
  }
}

/** A shard's records from its checkpoint, the kept ones delivered, the checkpoint saved as it moves. */
async function readShard(
  o: StreamMappingOptions,
  StreamArn: string,
  ShardId: string,
  state: ShardState,
  save: () => void,
  running: () => boolean,
): Promise<void> {
  let { ShardIterator } = await o.db.call<{ ShardIterator?: string }>(
    "DynamoDBStreams_20120810.GetShardIterator",
    {
      StreamArn,
      ShardId,
      ...(state.after
        ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: state.after }
        : { ShardIteratorType: o.startingPosition === "LATEST" ? "LATEST" : "TRIM_HORIZON" }),
    },
  );
  while (ShardIterator && running()) {
    const out = await o.db.call<{ Records: StreamRecord[]; NextShardIterator?: string }>(
      "DynamoDBStreams_20120810.GetRecords",
      { ShardIterator, Limit: 1000 },
    );
    const kept = out.Records.map((r) => ({
      ...r,
      awsRegion: o.streamArn.split(":")[3],
      eventSourceARN: o.streamArn,
    })).filter((r) => matchesAny(o.filters, r));
    const last = out.Records.at(-1)?.dynamodb.SequenceNumber;
    if (kept.length > 0) {
      await deliver(
        o,
        kept,
        (seq) => {
          state.after = seq;
          save();
        },
        running,
      );
    }
    if (last && running()) {
      state.after = last;
      save();
    }
    if (!out.NextShardIterator) {
      state.closed = true;
      save();
    }
    if (out.Records.length === 0) break;
    ShardIterator = out.NextShardIterator;
  }
}

/**
 * Invokes the function with batches of `records` until all are delivered or given up on: a
 * failed batch is retried (halved when bisecting), then described to the OnFailure destination.
 */
async function deliver(
  o: StreamMappingOptions,
  records: StreamRecord[],
  checkpoint: (seq: string) => void,
  running: () => boolean,
): Promise<void> {
  let size = o.batchSize;
  let attempts = 0;
  while (records.length > 0 && running()) {
    const batch = records.slice(0, size);
    const result = await o.invoke(o.functionRef, { Records: batch });
    const failures =
      result.ok && o.reportBatchItemFailures
        ? ((result.payload as { batchItemFailures?: Failure[] } | null)?.batchItemFailures ?? [])
        : [];
    if (result.ok && failures.length === 0) {
      records.splice(0, batch.length);
      checkpoint(batch.at(-1)!.dynamodb.SequenceNumber);
      attempts = 0;
      size = o.batchSize;
      continue;
    }
    attempts++;
    if (result.ok) {
      const first = Math.max(
        0,
        batch.findIndex((r) => failures.some((f) => f.itemIdentifier === r.dynamodb.SequenceNumber)),
      );
      if (first > 0) checkpoint(batch[first - 1]!.dynamodb.SequenceNumber);
      records.splice(0, first);
    } else {
      o.log(
        `${o.functionRef} failed on ${batch.length} stream records: ${result.errorType}: ${result.errorMessage}`,
      );
      if (o.bisect && batch.length > 1) size = Math.ceil(batch.length / 2);
    }
    if (attempts > o.maxRetries) {
      const failed = records.splice(0, Math.min(size, records.length));
      o.onFailure?.(failureDescription(o, failed, attempts));
      if (failed.length > 0) checkpoint(failed.at(-1)!.dynamodb.SequenceNumber);
      attempts = 0;
    } else {
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempts)));
    }
  }
}

/** What Lambda sends the OnFailure destination about records it gave up on. */
function failureDescription(o: StreamMappingOptions, failed: StreamRecord[], attempts: number): object {
  return {
    requestContext: {
      condition: "RetryAttemptsExhausted",
      approximateInvokeCount: attempts,
      functionArn: o.functionRef,
    },
    DDBStreamBatchInfo: {
      streamArn: o.streamArn,
      startSequenceNumber: failed[0]?.dynamodb.SequenceNumber,
      endSequenceNumber: failed.at(-1)?.dynamodb.SequenceNumber,
      batchSize: failed.length,
    },
    timestamp: new Date().toISOString(),
  };
}
