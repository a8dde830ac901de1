/**
 * Bulk onboarding for partners (`tenants import`): reading, checking and sending the rows, and
 * following the tenants (what is written is in bulk-output.ts).
 *
 * Import reads a CSV or JSON-lines file, validates every row with the API's own rules before
 * anything is sent, then POSTs the rows with bounded concurrency, each with an Idempotency-Key
 * derived from the key in use, the tenant id and the row's content: a second run of the same
 * file gets the API's first answers back (or a 409 for a tenant registered since), so it resumes
 * where a first run stopped and never onboards a tenant twice; those rows' tenants are then read
 * again, since a first answer says what a tenant was, not what it is. The layout is in docs/bulk.md.
 */
import { createHash } from "node:crypto";
import { extname } from "node:path";
import { OnboardingRequestBody as RequestSchema } from "../api/schemas.ts";
import type { TenantStatus } from "../domain/tenant.ts";
import type { OnboardingClient, OnboardingRequestBody } from "./client.ts";
import { type CsvRecord, CsvSyntaxError, parseCsv } from "./csv.ts";
import { ApiProblemError, ApiUnreachableError, CliError, ExitCode } from "./errors.ts";
import { clean } from "./format.ts";
import { applyTenant, readCurrentState } from "./import-state.ts";

export type InputFormat = "csv" | "jsonl";

/** The import's CSV columns, in the order `tenants export` writes the first five. */
export const IMPORT_COLUMNS = [
  "tenantId",
  "customerName",
  "region",
  "outboundGateway",
  "ndrAddress",
  "eu_group_name",
  "eu_group_address",
  "eu_group_members",
  "us_group_name",
  "us_group_address",
  "us_group_members",
] as const;
type ImportColumn = (typeof IMPORT_COLUMNS)[number];

/** Columns that `tenants export` writes and import ignores, so that an export can be imported. */
export const EXPORT_COLUMNS = [
  "tenantId",
  "customerName",
  "region",
  "outboundGateway",
  "ndrAddress",
  "status",
  "errorCode",
  "updatedAt",
  "partnerId",
  "consentUrl",
] as const;
const IGNORED_COLUMNS = new Set<string>(EXPORT_COLUMNS.filter((c) => !IMPORT_COLUMNS.includes(c as never)));
const REQUIRED_COLUMNS: readonly ImportColumn[] = ["tenantId", "customerName", "region", "ndrAddress"];

/** A valid row, ready to send. */
export interface ImportRow {
  /** The line of the file the row starts on (the CSV header is line 1). */
  row: number;
  body: OnboardingRequestBody;
  idempotencyKey: string;
}

export interface RowError {
  row: number;
  field?: string;
  message: string;
}

/** What a row came to: `accepted` (202), `already` there, `failed`, or `not_sent` (aborted). */
export type ImportResult = "accepted" | "already" | "failed" | "not_sent";

export interface RowOutcome {
  row: number;
  tenantId: string;
  customerName: string;
  result: ImportResult;
  /** The tenant's status as last seen (after `--wait`, its end state). */
  tenantStatus?: TenantStatus | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  /** The link the customer's admin opens to consent, while the tenant awaits it. */
  consentUrl?: string | undefined;
}

export const RESULT_COLUMNS = [
  "row",
  "tenantId",
  "customerName",
  "result",
  "tenantStatus",
  "errorCode",
  "errorMessage",
  "consentUrl",
] as const;

/** Statuses a tenant stays in until someone acts (retry, consent, offboard). */
export const SETTLED_STATUSES: readonly TenantStatus[] = [
  "succeeded",
  "failed",
  "awaiting_consent",
  "awaiting_permissions",
  "offboarded",
  "offboarding_failed",
];

// ---- reading and validating -----------------------------------------------------------------

export function formatOf(path: string, format: InputFormat | undefined): InputFormat | undefined {
  if (format) return format;
  const ext = extname(path).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".jsonl" || ext === ".ndjson") return "jsonl";
  return undefined;
}

/**
 * Every row of the file, validated: the valid rows with their Idempotency-Keys, and every
 * problem of every row (an empty `errors` means the whole file may be sent).
 */
export function readRows(
  text: string,
  format: InputFormat,
  keyId: string,
): { rows: ImportRow[]; errors: RowError[] } {
  const errors: RowError[] = [];
  const raw = format === "csv" ? csvRows(text, errors) : jsonLines(text, errors);
  const rows: ImportRow[] = [];
  const seen = new Map<string, number>();
  for (const { row, value, columns, problems } of raw) {
    // Checks of their own run on the raw row too, so that a row shows every problem at once.
    const rowErrors = [...(problems ?? []), ...groupClashes(row, value, columns)];
    const rawId = (value as { tenantId?: unknown } | null)?.tenantId;
    if (typeof rawId === "string" && rawId !== "") {
      const id = rawId.toLowerCase();
      const first = seen.get(id);
      if (first !== undefined) {
        rowErrors.push({ row, field: "tenantId", message: `The same tenant as row ${first}` });
      } else seen.set(id, row);
    }
    const parsed = RequestSchema.safeParse(value);
    if (!parsed.success) {
      // The schema's own cross-field checks (the EU/US clash) are already reported above, once.
      const reported = new Set(rowErrors.map((e) => e.field));
      for (const issue of parsed.error.issues) {
        const field = fieldName(issue.path, columns);
        if (issue.code === "custom" && reported.has(field)) continue;
        rowErrors.push({ row, field, message: messageOf(issue.path, issue.message, columns) });
      }
    }
    if (rowErrors.length > 0 || !parsed.success) {
      errors.push(...rowErrors);
      continue;
    }
    const body = parsed.data as OnboardingRequestBody;
    rows.push({ row, body, idempotencyKey: idempotencyKeyOf(keyId, body) });
  }
  if (raw.length === 0 && errors.length === 0) errors.push({ row: 0, message: "The file has no rows." });
  errors.sort((a, b) => a.row - b.row);
  return { rows, errors };
}

/** The EU and US groups must differ in name and in address (case-insensitive). */
function groupClashes(row: number, value: unknown, columns: true | undefined): RowError[] {
  const groups = (value as { groups?: { eu?: unknown; us?: unknown } } | null)?.groups;
  const eu = groups?.eu as { name?: unknown; primarySmtpAddress?: unknown } | undefined;
  const us = groups?.us as { name?: unknown; primarySmtpAddress?: unknown } | undefined;
  const same = (a: unknown, b: unknown) =>
    typeof a === "string" &&
    typeof b === "string" &&
    a !== "" &&
    a.trim().toLowerCase() === b.trim().toLowerCase();
  const errors: RowError[] = [];
  if (same(eu?.name, us?.name)) {
    errors.push({
      row,
      field: columns ? "us_group_name" : "groups.us.name",
      message: "The EU and US groups must have different names",
    });
  }
  if (same(eu?.primarySmtpAddress, us?.primarySmtpAddress)) {
    errors.push({
      row,
      field: columns ? "us_group_address" : "groups.us.primarySmtpAddress",
      message: "The EU and US groups must have different addresses",
    });
  }
  return errors;
}

/** zod's message, worded for the CSV columns where zod's would puzzle a spreadsheet user. */
function messageOf(path: readonly PropertyKey[], message: string, columns: true | undefined): string {
  if (!columns) return message;
  if (path[0] === "outboundGateway") return "Must be true or false (or yes/no, 1/0; empty is false)";
  if (path[0] === "groups" && path.length === 2) {
    return `Required when region is split: give ${String(path[1])}_group_name, _address and _members`;
  }
  return message;
}

interface RawRow {
  row: number;
  value: unknown;
  /** CSV only: the row came from columns (errors are named after them). */
  columns?: true;
  /** Problems found while reading the row. */
  problems?: RowError[];
}

function csvRows(text: string, errors: RowError[]): RawRow[] {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) {
      errors.push({ row: err.line, message: err.message.replace(/^line \d+: /, "") });
      return [];
    }
    throw err;
  }
  const [header, ...data] = records;
  if (!header) return [];
  const byName = new Map<string, ImportColumn>(IMPORT_COLUMNS.map((c) => [c.toLowerCase(), c]));
  const index = new Map<ImportColumn, number>();
  header.fields.forEach((name, i) => {
    const key = name.trim();
    const column = byName.get(key.toLowerCase());
    if (column) {
      if (index.has(column)) errors.push({ row: header.line, message: `Column ${column} appears twice` });
      index.set(column, i);
    } else if (!IGNORED_COLUMNS.has(key)) {
      errors.push({
        row: header.line,
        message: `Unknown column "${clean(key)}" (columns: ${IMPORT_COLUMNS.join(", ")})`,
      });
    }
  });
  for (const column of REQUIRED_COLUMNS) {
    if (!index.has(column)) errors.push({ row: header.line, message: `Missing column ${column}` });
  }
  if (errors.length > 0) return [];
  return data.map((record) => {
    const cell = (c: ImportColumn) => {
      const i = index.get(c);
      return i === undefined ? "" : (record.fields[i] ?? "").trim();
    };
    if (record.fields.length > header.fields.length) {
      errors.push({
        row: record.line,
        message: `${record.fields.length} fields for ${header.fields.length} columns (quote a value with a comma)`,
      });
    }
    const value: Record<string, unknown> = {
      tenantId: cell("tenantId"),
      customerName: cell("customerName"),
      region: cell("region"),
      ndrAddress: cell("ndrAddress"),
    };
    const gateway = cell("outboundGateway");
    if (gateway !== "") value["outboundGateway"] = booleanOf(gateway);
    const groups: Record<string, unknown> = {};
    for (const region of ["eu", "us"] as const) {
      const name = cell(`${region}_group_name`);
      const address = cell(`${region}_group_address`);
      const members = cell(`${region}_group_members`);
      if (name === "" && address === "" && members === "") continue;
      groups[region] = {
        name,
        primarySmtpAddress: address,
        members: members
          .split(";")
          .map((m) => m.trim())
          .filter(Boolean),
      };
    }
    const problems: RowError[] = [];
    if (Object.keys(groups).length > 0) {
      if (value["region"] === "us" || value["region"] === "eu") {
        problems.push({
          row: record.line,
          field: "eu_group_*/us_group_*",
          message: "Only allowed when region is split (leave the group columns empty)",
        });
      } else value["groups"] = groups;
    }
    return { row: record.line, value, columns: true, problems } satisfies RawRow;
  });
}

/** `true`/`false` (also yes/no, 1/0, any case); anything else stays text and fails validation. */
function booleanOf(text: string): boolean | string {
  const t = text.toLowerCase();
  if (["true", "yes", "1"].includes(t)) return true;
  if (["false", "no", "0"].includes(t)) return false;
  return text;
}

function jsonLines(text: string, errors: RowError[]): RawRow[] {
  const rows: RawRow[] = [];
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  src.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      rows.push({ row: i + 1, value: JSON.parse(line) });
    } catch {
      errors.push({ row: i + 1, message: "Not a JSON object (one request body per line)" });
    }
  });
  return rows;
}

/** A zod issue's path as the CSV column (or the JSON path) it refers to. */
function fieldName(path: readonly PropertyKey[], columns: true | undefined): string | undefined {
  if (path.length === 0) return undefined;
  if (!columns) {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
  }
  const [top, region, field, index] = path;
  if (top !== "groups") return String(top);
  if (region !== "eu" && region !== "us") return "eu_group_*/us_group_*";
  if (field === "name") return `${region}_group_name`;
  if (field === "primarySmtpAddress") return `${region}_group_address`;
  if (field === "members") {
    return typeof index === "number"
      ? `${region}_group_members (member ${index + 1})`
      : `${region}_group_members`;
  }
  return `${region}_group_*`;
}

/** A short, stable id of the API key in use: never the key, never sent anywhere. */
export function keyIdOf(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("hex").slice(0, 16);
}

/**
 * `import-` + SHA-256 of (key id, tenant id, the row's normalised content): the same row sent
 * again with the same key is the same request; an edited row is a new one.
 */
export function idempotencyKeyOf(keyId: string, body: OnboardingRequestBody): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([keyId, body.tenantId, canonical(body)]))
    .digest("base64url");
  return `import-${hash}`;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

// ---- sending --------------------------------------------------------------------------------

export interface Counts {
  total: number;
  sent: number;
  accepted: number;
  already: number;
  failed: number;
}

/**
 * Sends every row, `concurrency` at a time. A refused key (401/403) or an API that cannot be
 * reached (after the client's retries) stops the import: the rows not sent are `not_sent`, and
 * the error is thrown after `outcomes` is complete.
 */
export async function sendRows(
  api: OnboardingClient,
  rows: readonly ImportRow[],
  concurrency: number,
  onProgress: (counts: Counts) => void,
): Promise<{ outcomes: RowOutcome[]; counts: Counts; abort?: CliError }> {
  const counts: Counts = { total: rows.length, sent: 0, accepted: 0, already: 0, failed: 0 };
  const outcomes: RowOutcome[] = rows.map((r) => ({
    row: r.row,
    tenantId: r.body.tenantId,
    customerName: r.body.customerName,
    result: "not_sent",
  }));
  let next = 0;
  let abort: CliError | undefined;
  const stale: RowOutcome[] = [];
  const worker = async () => {
    while (next < rows.length && !abort) {
      const i = next++;
      const row = rows[i]!;
      const outcome = outcomes[i]!;
      try {
        const { tenant, replayed } = await api.onboardTenant(row.body, row.idempotencyKey);
        // A new tenant waits for its customer's consent at once (with why, CONSENT_REQUIRED).
        outcome.result = replayed ? "already" : "accepted";
        applyTenant(outcome, tenant);
        // The first answer again, not today's state: read below.
        if (replayed) stale.push(outcome);
      } catch (err) {
        if (
          err instanceof ApiUnreachableError ||
          (err instanceof CliError && err.exitCode === ExitCode.Auth)
        ) {
          abort ??= err;
          continue;
        }
        Object.assign(outcome, await failureOf(api, row, err));
      }
      counts.sent++;
      counts[outcome.result as "accepted" | "already" | "failed"]++;
      onProgress(counts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, rows.length)) }, worker));
  if (!abort) await readCurrentState(api, stale, concurrency);
  return { outcomes, counts, ...(abort && { abort }) };
}

/** A 409 for a tenant that this key can see is "already there"; anything else is a failure. */
async function failureOf(api: OnboardingClient, row: ImportRow, err: unknown): Promise<Partial<RowOutcome>> {
  if (err instanceof ApiProblemError && err.status === 409) {
    try {
      const tenant = await api.getTenant(row.body.tenantId);
      const outcome: Partial<RowOutcome> = { result: "already" };
      applyTenant(outcome as RowOutcome, tenant);
      return outcome;
    } catch (getErr) {
      if (getErr instanceof ApiProblemError && getErr.status === 404) {
        return {
          result: "failed",
          errorCode: "conflict",
          errorMessage: "The tenant is already registered by another partner.",
        };
      }
    }
  }
  if (err instanceof ApiProblemError) {
    const type = typeof err.problem.type === "string" ? err.problem.type : "";
    return {
      result: "failed",
      errorCode: type.startsWith("urn:") ? type.slice(type.lastIndexOf(":") + 1) : `http-${err.status}`,
      errorMessage: err.message.replace(/\n\s*/g, "; "),
    };
  }
  return { result: "failed", errorCode: "error", errorMessage: (err as Error).message };
}

// ---- waiting --------------------------------------------------------------------------------

/**
 * Polls the tenants of `outcomes` (accepted or already there) until each is in a settled status
 * or `timeoutMs` passes. Few tenants are read one by one; many through the list (100 per page),
 * which costs a request per 100 tenants. The pause between rounds grows from 1 s to 10 s.
 */
export async function waitForTenants(
  api: OnboardingClient,
  outcomes: RowOutcome[],
  options: { concurrency: number; timeoutMs: number; onRound: (outcomes: readonly RowOutcome[]) => void },
): Promise<{ settled: boolean }> {
  const following = new Set(outcomes.filter((o) => o.result === "accepted" || o.result === "already"));
  const pending = () => [...following].filter((o) => !SETTLED_STATUSES.includes(o.tenantStatus as never));
  const deadline = Date.now() + options.timeoutMs;
  let pause = 1000;
  for (;;) {
    const open = pending();
    options.onRound(outcomes);
    if (open.length === 0) return { settled: true };
    if (Date.now() > deadline) return { settled: false };
    await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
    pause = Math.min(pause * 1.5, 10_000);
    const { gone } = await readCurrentState(api, open, options.concurrency);
    for (const o of gone) following.delete(o);
  }
}
