/**
 * What the report keeps of an answer: tokens and e-mail addresses removed (the report may be
 * attached to a public bug), and its shape (property names and JSON types, or the error's type).
 */
import { OnboardingError } from "../../domain/errors.ts";
import type { Shape } from "./report.ts";

const EMAIL = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** Removes tokens and e-mail addresses (the report may be attached to a public bug). */
export function redact(text: string): string {
  return text.replace(JWT, "<token>").replace(EMAIL, "<address>");
}

/** An error for a check's detail: its code when it has one, redacted, at most 300 characters. */
export function describe(err: unknown): string {
  if (err instanceof OnboardingError) return `${err.code}: ${redact(err.message).slice(0, 300)}`;
  return redact(err instanceof Error ? err.message : String(err)).slice(0, 300);
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function shapeOfRows(rows: readonly Record<string, unknown>[]): Shape {
  const properties: Record<string, string> = {};
  for (const row of rows.slice(0, 5)) {
    for (const [k, v] of Object.entries(row)) {
      const t = typeOf(v);
      const prev = properties[k];
      properties[k] =
        prev === undefined || prev === t ? t : prev === "null" ? t : t === "null" ? prev : `${prev}|${t}`;
    }
  }
  return { properties: Object.fromEntries(Object.entries(properties).sort()), rows: rows.length };
}

/** The shape of a 2xx answer's rows (`value` as a list, one object, or the body itself). */
export function shapeOfSuccess(body: string): Shape {
  let rows: Record<string, unknown>[] = [];
  try {
    const json = JSON.parse(body) as { value?: unknown };
    rows = Array.isArray(json.value)
      ? (json.value as Record<string, unknown>[])
      : json.value
        ? [json.value as Record<string, unknown>]
        : [json as Record<string, unknown>];
  } catch {
    rows = [];
  }
  return shapeOfRows(rows);
}

/** The shape of a refusal: its HTTP status and, when the body names one, the exception type. */
export function shapeOfError(status: number, body: string | undefined): Shape {
  const exceptionType =
    /\|([A-Za-z.]+Exception)\|/.exec(body ?? "")?.[1] ?? /"type"\s*:\s*"([^"]+)"/.exec(body ?? "")?.[1];
  return { error: { status, ...(exceptionType ? { exceptionType } : {}) } };
}
