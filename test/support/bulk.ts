/**
 * Bulk import files for the CLI's tests: CSV rows of simulated tenants (bulk-rows.ts, valid for
 * the Microsoft 365 simulator's demo mailboxes), and reading back result files and a partner's tenants.
 */
import { readFile } from "node:fs/promises";
import { expect } from "vitest";
import { parseCsv } from "../../functions/cli/csv.ts";
import type { Json, TestRuntime } from "./local-runtime.ts";

export { csvRow, HEADER } from "./bulk-rows.ts";

/** Every tenant the key sees, all pages. */
export async function tenantsOf(rt: Pick<TestRuntime, "call">, key: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const { status, body } = await rt.call(
      "GET",
      `/v1/tenants?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { key },
    );
    expect(status).toBe(200);
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

/** A CSV file's rows as objects keyed by its header. */
export async function records(path: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = parseCsv(await readFile(path, "utf8"));
  const names = header!.fields;
  return rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r.fields[i] ?? ""])));
}
