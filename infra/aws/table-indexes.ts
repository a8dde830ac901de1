/**
 * Which global secondary indexes the table gets. CloudFormation (DynamoDB) creates or deletes
 * one GSI per table update, so a table of an earlier version reaches this version's indexes
 * through intermediate deployments, each naming the indexes to keep with the context
 * `tableIndexes` (docs/deploy.md, "Upgrading the table"). Without it: this version's indexes.
 */
import { TABLE_INDEXES } from "../../functions/adapters/dynamodb/schema.ts";

export interface IndexSpec {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** `status`: keys and status only (this version's); `all`: every attribute (the first version's). */
  readonly projection: "status" | "all";
}

/** This version's indexes. */
export const CURRENT_INDEXES: readonly IndexSpec[] = Object.values(TABLE_INDEXES).map((i) => ({
  ...i,
  projection: "status" as const,
}));

/** The first version's list indexes (one constant partition per list, every attribute projected). */
export const LEGACY_INDEXES: readonly IndexSpec[] = [
  { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk", projection: "all" },
  { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk", projection: "all" },
];

/**
 * From a table with `gsi1` and `gsi2` (the first version) to this version's: one index added or
 * removed per deployment (`-c tableIndexes=<names>`), then a deployment without the context.
 */
export const UPGRADE_FROM_FIRST_VERSION: readonly (readonly string[])[] = [
  ["gsi1", "gsi2", "gsi3"],
  ["gsi1", "gsi2", "gsi3", "gsi4"],
  ["gsi1", "gsi2", "gsi3", "gsi4", "gsi5"],
  ["gsi2", "gsi3", "gsi4", "gsi5"],
];

/** The indexes named (any of this version's and the first version's); all of this version's without names. */
export function tableIndexes(names?: readonly string[]): IndexSpec[] {
  if (names === undefined) return [...CURRENT_INDEXES];
  const known = new Map([...CURRENT_INDEXES, ...LEGACY_INDEXES].map((i) => [i.name, i]));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`tableIndexes must name some of ${[...known.keys()].join(", ")}; got ${names.join(",")}`);
  }
  return [...new Set(names)].map((n) => known.get(n)!);
}
