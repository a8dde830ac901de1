/**
 * Bulk import files for the CLI's tests: CSV rows of simulated tenants (valid for the Microsoft
 * 365 simulator's demo mailboxes), and reading back result files and a partner's tenants.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { expect } from "vitest";
import { parseCsv } from "../../functions/cli/csv.ts";
import { demoOnboardingRequest } from "../../infra/local/m365-simulator/index.ts";
import type { Json, TestRuntime } from "./local-runtime.ts";

export const HEADER =
  "tenantId,customerName,region,outboundGateway,ndrAddress,eu_group_name,eu_group_address,eu_group_members,us_group_name,us_group_address,us_group_members";

/** A CSV row for a simulated tenant: every third split (with both groups), the rest us or eu. */
export function csvRow(i: number, tenantId: string = randomUUID()): string {
  const region = i % 3 === 0 ? "split" : i % 3 === 1 ? "us" : "eu";
  const body = demoOnboardingRequest(tenantId, {
    customerName: `customer-${i}`,
    region,
    outboundGateway: i % 2 === 0,
  });
  const group = (g: { name: string; primarySmtpAddress: string; members: string[] } | undefined) =>
    g ? [g.name, g.primarySmtpAddress, g.members.join(";")] : ["", "", ""];
  return [
    body.tenantId,
    body.customerName,
    body.region,
    String(body.outboundGateway),
    body.ndrAddress,
    ...group(body.groups?.eu),
    ...group(body.groups?.us),
  ].join(",");
}

/** Every tenant the key sees, all pages. */
export async function tenantsOf(rt: TestRuntime, key: string): Promise<Json[]> {
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
