/**
 * What the dynamodb-scale benchmark measures with: a meter of DynamoDB requests and consumed
 * capacity (every request asks TOTAL), each task's peak memory, and scans of the table (index
 * entries per shard, the largest item per kind).
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { createDocumentClient } from "../functions/adapters/dynamodb/client.ts";
import { itemBytes } from "../functions/adapters/dynamodb/item-size.ts";
import type { TaskHandler } from "../functions/tasks/task-context.ts";
import type { TaskName } from "../workflows/definition.ts";
import { round } from "./harness.ts";

export interface Meter {
  requests: number;
  readUnits: number;
  writeUnits: number;
  byCommand: Record<string, number>;
}
export const newMeter = (): Meter => ({ requests: 0, readUnits: 0, writeUnits: 0, byCommand: {} });
/** The meter requests are counted into now (a section replaces it with a new one). */
export interface MeterRef {
  meter: Meter;
}
export type TaskMemory = Partial<Record<TaskName, { peakRssDeltaMiB: number; peakHeapDeltaMiB: number }>>;

/** Samples the process's memory every 20 ms while a task runs; keeps each task's largest rise. */
export const sampleTaskMemory =
  (taskMemory: TaskMemory) =>
  (name: TaskName, handler: TaskHandler): TaskHandler =>
  async (input) => {
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 20);
    try {
      return await handler(input);
    } finally {
      clearInterval(sampler);
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      const seen = taskMemory[name] ?? { peakRssDeltaMiB: 0, peakHeapDeltaMiB: 0 };
      taskMemory[name] = {
        peakRssDeltaMiB: Math.max(seen.peakRssDeltaMiB, (peakRss - before.rss) / 2 ** 20),
        peakHeapDeltaMiB: Math.max(seen.peakHeapDeltaMiB, (peakHeap - before.heapUsed) / 2 ** 20),
      };
    }
  };

/** Counts each request, by command, and its consumed capacity into `meters.meter`. */
export const meterClient = (meters: MeterRef) => (client: DynamoDBClient) =>
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const command = context.commandName ?? "";
      if (!/^(Describe|Create|Update)Table|ListTables/.test(command))
        input["ReturnConsumedCapacity"] = "TOTAL";
      const output = await next(args);
      const meter = meters.meter;
      meter.requests++;
      meter.byCommand[command] = (meter.byCommand[command] ?? 0) + 1;
      const consumed = [(output.output as { ConsumedCapacity?: unknown }).ConsumedCapacity]
        .flat()
        .filter(Boolean) as {
        ReadCapacityUnits?: number;
        WriteCapacityUnits?: number;
        CapacityUnits?: number;
      }[];
      for (const c of consumed) {
        const writes = /Put|Update|Delete|BatchWrite/.test(command);
        const units = c.CapacityUnits ?? (writes ? c.WriteCapacityUnits : c.ReadCapacityUnits) ?? 0;
        if (writes) meter.writeUnits += units;
        else meter.readUnits += units;
      }
      return output;
    },
    { step: "initialize", name: "benchMeter" },
  );

export async function shardSpread(doc: ReturnType<typeof createDocumentClient>, table: string) {
  const counts = { byPartner: new Map<string, number>(), all: new Map<string, number>() };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "attribute_exists(gsi4pk)",
        ProjectionExpression: "gsi3pk, gsi4pk",
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    for (const item of page.Items ?? []) {
      for (const [key, map] of [
        ["gsi3pk", counts.byPartner],
        ["gsi4pk", counts.all],
      ] as const) {
        const value = item[key] as string | undefined;
        if (value) map.set(value, (map.get(value) ?? 0) + 1);
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const describe = (map: Map<string, number>) => {
    const values = [...map.values()];
    return `${map.size} partitions, ${Math.min(...values)}-${Math.max(...values)} entries each`;
  };
  const allValues = [...counts.all.entries()].filter(([k]) => k.startsWith("TENANTS#ALL#")).map(([, v]) => v);
  const total = allValues.reduce((a, b) => a + b, 0);
  return {
    byPartner: describe(counts.byPartner),
    all: describe(counts.all),
    busiestShare: round((100 * Math.max(...allValues)) / total, 1),
  };
}

export async function itemSizes(doc: ReturnType<typeof createDocumentClient>, table: string) {
  const largest: Record<string, number> = {};
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: table, ...(startKey && { ExclusiveStartKey: startKey }) }),
    );
    for (const item of page.Items ?? []) {
      const kind = (item["kind"] as string | undefined) ?? "other";
      largest[kind] = Math.max(largest[kind] ?? 0, itemBytes(item));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return largest;
}
