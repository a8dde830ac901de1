/**
 * What `tenants import` and `tenants export` write: the result file (atomically), the export's
 * CSV, and the counts on stderr (redrawn in place on a terminal, a line per tenth elsewhere).
 */
import { rename, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { type Counts, EXPORT_COLUMNS, RESULT_COLUMNS, type RowOutcome } from "./bulk.ts";
import type { TenantResource } from "./client.ts";
import { csvText, toCsv } from "./csv.ts";
import type { Writable } from "./format.ts";

/** `tenants.csv` -> `tenants.results.csv`, beside the input. */
export function defaultResultPath(input: string): string {
  const ext = extname(input);
  return join(dirname(input), `${basename(input, ext)}.results.csv`);
}

/** Writes the result file atomically (a temporary file renamed over it). */
export async function writeResults(path: string, outcomes: readonly RowOutcome[]): Promise<void> {
  const text = toCsv(
    RESULT_COLUMNS,
    outcomes.map((o) => [
      o.row,
      o.tenantId,
      o.customerName,
      o.result,
      o.tenantStatus,
      o.errorCode,
      csvText(o.errorMessage),
      o.consentUrl,
    ]),
  );
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, "utf8");
  await rename(tmp, path);
}

export function exportCsv(tenants: readonly TenantResource[]): string {
  return toCsv(
    EXPORT_COLUMNS,
    tenants.map((t) => [
      t.tenantId,
      t.customerName,
      t.region,
      t.outboundGateway,
      t.ndrAddress,
      t.status,
      t.error?.code,
      t.updatedAt,
      t.partnerId,
      t.consentUrl,
    ]),
  );
}

/**
 * Counts on stderr: one line redrawn in place on a terminal (at most 10 times a second), else
 * a line per tenth of the work (and the last), so that logs stay short.
 */
export class CountsView {
  readonly #out: Writable;
  readonly #tty: boolean;
  #drawn = 0;
  #lastDecile = -1;
  #lastLine = "";
  #dirty = false;

  constructor(out: Writable, tty: boolean) {
    this.#out = out;
    this.#tty = tty;
  }

  /** `done` of `total` decides the plain line's tenth; `text` is the line. */
  update(text: string, done: number, total: number, force = false): void {
    if (this.#tty) {
      const now = Date.now();
      if (!force && now - this.#drawn < 100) return;
      this.#drawn = now;
      this.#dirty = true;
      this.#out.write(`\r\u001b[2K${text}`);
      return;
    }
    const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
    // The same line twice (the last tenth, then the closing count) is written once.
    if ((decile !== this.#lastDecile || force) && text !== this.#lastLine) {
      this.#lastDecile = decile;
      this.#lastLine = text;
      this.#out.write(`${text}\n`);
    }
  }

  /** Ends the redrawn line. */
  finish(): void {
    if (this.#tty && this.#dirty) this.#out.write("\n");
    this.#dirty = false;
    this.#lastDecile = -1;
  }
}

export function sendLine(c: Counts): string {
  return `sent ${c.sent}/${c.total}  accepted ${c.accepted}  already ${c.already}  failed ${c.failed}`;
}

/** `succeeded 980  awaiting_consent 12  running 8` for the rows that reached the API. */
export function statusCounts(outcomes: readonly RowOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    if (o.result !== "accepted" && o.result !== "already") continue;
    const s = o.tenantStatus ?? "unknown";
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return counts;
}

export function statusLine(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s} ${n}`)
    .join("  ");
}
