/**
 * Plain-text rendering for people: aligned tables, times, durations, and a progress bar.
 * Values come from the API (error messages relayed from Microsoft 365 among them), so control
 * characters are replaced before they reach a terminal, where they could move the cursor or
 * rewrite what ops read.
 */

/** Replaces control characters (ESC, CR, BEL...) with a visible mark. */
export function clean(value: unknown): string {
  if (value === undefined || value === null) return "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "\uFFFD");
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

/** Columns padded to their widest cell; the last column is never padded. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => clean(c.value(row))));
  const headers = columns.map((c) => c.header);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** Label/value lines, labels aligned; empty values are left out. */
export function fields(entries: readonly [string, unknown][]): string {
  const shown = entries.filter(([, v]) => v !== undefined && v !== null && v !== "");
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${clean(v)}`).join("\n");
}

/** `2026-01-31 12:00:05Z` (UTC, seconds). */
export function time(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** `85 ms`, `4.2 s`, `3m 04s`, `2h 05m`. */
export function duration(fromIso: string | undefined, toIso: string | undefined): string {
  if (!fromIso || !toIso) return "";
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function errorText(error: { code: string; message: string } | undefined): string {
  return error ? `${error.code}: ${error.message}` : "";
}

export interface Writable {
  write(chunk: string): unknown;
}

/**
 * `[=========>          ] 12/40 label` on stderr. On a terminal it redraws one line; elsewhere
 * (logs, CI) it writes a line per tenth of the work so that logs stay short.
 */
export class ProgressBar {
  readonly #out: Writable;
  readonly #tty: boolean;
  readonly #total: number;
  readonly #width = 28;
  #done = 0;
  #lastDecile = -1;

  constructor(out: Writable, total: number, tty: boolean) {
    this.#out = out;
    this.#total = total;
    this.#tty = tty;
  }

  tick(label = ""): void {
    this.#done = Math.min(this.#done + 1, this.#total);
    if (this.#tty) {
      this.#out.write(`\r\u001b[2K${this.#render(label)}`);
      return;
    }
    const decile = Math.floor((this.#done / this.#total) * 10);
    if (decile !== this.#lastDecile || this.#done === this.#total) {
      this.#lastDecile = decile;
      this.#out.write(`${this.#render("")}\n`);
    }
  }

  finish(): void {
    if (this.#tty && this.#total > 0) this.#out.write("\n");
  }

  #render(label: string): string {
    const filled = this.#total === 0 ? this.#width : Math.round((this.#done / this.#total) * this.#width);
    const bar = "=".repeat(filled) + (filled < this.#width ? ">" : "") + " ".repeat(this.#width - filled);
    return `[${bar.slice(0, this.#width)}] ${this.#done}/${this.#total}${label ? ` ${clean(label)}` : ""}`;
  }
}
