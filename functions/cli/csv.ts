/**
 * RFC 4180 CSV, the dialect spreadsheets write: comma-separated, fields with a comma, quote or
 * line break in double quotes (a quote doubled), CRLF or LF, an optional UTF-8 BOM.
 */

/** One record with the file line it starts on (1-based; the header is line 1). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** Thrown for a quote that is never closed or text after a closing quote. */
export class CsvSyntaxError extends Error {
  override readonly name = "CsvSyntaxError";
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

/** Parses every record; blank lines are skipped. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let line = 1;
  let start = 1;
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let afterQuote = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "")) records.push({ line: start, fields });
    fields = [];
    field = "";
    afterQuote = false;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === "" && !afterQuote) {
      quoted = true;
    } else if (c === ",") {
      fields.push(field);
      field = "";
      afterQuote = false;
    } else if (c === "\r" && src[i + 1] === "\n") {
      // the \n ends the record
    } else if (c === "\n" || c === "\r") {
      endRecord();
      line++;
      start = line;
    } else if (afterQuote) {
      throw new CsvSyntaxError(line, "text after a closing quote (write a quote inside quotes as two)");
    } else {
      field += c;
    }
  }
  if (quoted) throw new CsvSyntaxError(start, "a quoted field is never closed");
  if (field !== "" || fields.length > 0 || afterQuote) endRecord();
  return records;
}

/** A CSV field, quoted when it has to be. */
export function csvField(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Free text (an error message relayed from Microsoft 365) that a spreadsheet would run as a
 * formula gets a leading apostrophe (OWASP's advice against CSV injection).
 */
export function csvText(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** Header and rows as CSV text, CRLF-terminated (RFC 4180). */
export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((r) => `${r.map(csvField).join(",")}\r\n`).join("");
}
