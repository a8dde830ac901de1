/**
 * The size DynamoDB counts for an item (its 400 KB limit, and the 1 KB / 4 KB units of write and
 * read capacity): attribute names plus values, strings and binaries by their bytes, numbers
 * about one byte per two digits, lists and maps 3 bytes plus 1 per element
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
 */

/** DynamoDB's own limit per item. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

export function itemBytes(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    total += Buffer.byteLength(name) + valueBytes(value);
  }
  return total;
}

function valueBytes(value: unknown): number {
  if (value === null || typeof value === "boolean") return 1;
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number" || typeof value === "bigint") {
    const digits = String(value)
      .replace(/[^0-9]/g, "")
      .replace(/^0+/, "").length;
    return Math.ceil(digits / 2) + 1;
  }
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) {
    let total = 0;
    for (const v of value) total += valueBytes(v);
    return total;
  }
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueBytes(v), 0);
  if (typeof value === "object") {
    let total = 3;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) total += 1 + Buffer.byteLength(k) + valueBytes(v);
    }
    return total;
  }
  return 0;
}
