/**
 * DynamoDB capacity as AWS would bill it, measured on the form: every forwarded call asks
 * DynamoDB Local for its ConsumedCapacity (TOTAL) and the totals are counted per operation;
 * the field is removed from the answer when the caller did not ask for it, so the functions
 * see what AWS would send them. Units are also counted per calling function (its logical id),
 * so a figure can name whose work it measures while other work runs.
 */
import type { AwsResponse } from "../contracts.ts";

const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);
const READS = new Set(["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"]);

export interface CapacityTotals {
  requests: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  /** Read and write units by the logical id of the calling function. */
  byCaller: Record<string, { readUnits: number; writeUnits: number }>;
}

export function createCapacityMeter(forward: (target: string, body: Buffer) => Promise<AwsResponse>) {
  const totals: CapacityTotals = { requests: {}, readUnits: 0, writeUnits: 0, byCaller: {} };
  const serve = async (target: string, raw: Buffer, caller = ""): Promise<AwsResponse> => {
    const operation = target.slice(target.indexOf(".") + 1);
    totals.requests[operation] = (totals.requests[operation] ?? 0) + 1;
    if (!WRITES.has(operation) && !READS.has(operation)) return forward(target, raw);
    const body = JSON.parse(raw.toString() || "{}") as Record<string, unknown>;
    const asked = body["ReturnConsumedCapacity"] !== undefined && body["ReturnConsumedCapacity"] !== "NONE";
    if (!asked) body["ReturnConsumedCapacity"] = "TOTAL";
    const response = await forward(target, Buffer.from(JSON.stringify(body)));
    if (response.status !== 200) return response;
    const answer = JSON.parse(response.body.toString()) as Record<string, unknown>;
    const consumed = answer["ConsumedCapacity"];
    const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
      (sum: number, c: { CapacityUnits?: number }) => sum + (c.CapacityUnits ?? 0),
      0,
    );
    totals.byCaller[caller] ??= { readUnits: 0, writeUnits: 0 };
    const mine = totals.byCaller[caller];
    if (WRITES.has(operation)) {
      totals.writeUnits += units;
      mine.writeUnits += units;
    } else {
      totals.readUnits += units;
      mine.readUnits += units;
    }
    if (asked) return response;
    delete answer["ConsumedCapacity"];
    return { ...response, body: JSON.stringify(answer) };
  };
  return { serve, totals };
}
