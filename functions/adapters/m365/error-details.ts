/**
 * Reading what an OData error answer of Graph or Exchange says: the text a person can act on and,
 * for Exchange, the .NET exception type that names the failure.
 *
 * Exchange writes its cmdlet error into `error.details[].message` in one of two forms: the string
 * `ErrorId|ExceptionType|Text`, or a JSON string `{"Message": ..., "TypeName": ...}` (some answers
 * say `ClassName`). The `X-ExceptionType` response header names the exception too.
 */

export interface ParsedBody {
  message?: string;
  exceptionType?: string;
  code?: string;
}

export function lowerKeys(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * The useful text of an OData error: `error.details[].message` (in either of Exchange's forms),
 * then `error.innererror.internalException.message`, then `error.message`.
 */
export function parseODataError(body: string): ParsedBody {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    const text = body.trim().slice(0, 500);
    return text ? { message: text } : {};
  }
  const error = lowerKeys(lowerKeys(json)?.error);
  if (!error) return {};
  const out: ParsedBody = {};
  if (typeof error.code === "string") out.code = error.code;
  const detailMessages = Array.isArray(error.details)
    ? error.details
        .map((d) => lowerKeys(d)?.message)
        .filter((m): m is string => typeof m === "string" && m.length > 0)
    : [];
  const texts: string[] = [];
  for (const m of detailMessages) {
    const { exceptionType, text } = splitDetail(m);
    if (exceptionType) out.exceptionType ??= exceptionType;
    if (text) texts.push(text);
  }
  const inner = lowerKeys(error.innererror);
  const internal = lowerKeys(inner?.internalexception);
  if (typeof internal?.type === "string") out.exceptionType ??= internal.type;
  if (texts.length > 0) out.message = texts.join(" ");
  else if (typeof internal?.message === "string") out.message = internal.message;
  else if (typeof error.message === "string") out.message = error.message;
  return out;
}

/**
 * One detail message: `ErrorId|ExceptionType|Text` (the ErrorId varies per call site), a JSON
 * `{"Message", "TypeName" | "ClassName"}` (any casing), or plain text as it is.
 */
export function splitDetail(message: string): { exceptionType?: string; text: string } {
  const trimmed = message.trim();
  if (trimmed.startsWith("{")) {
    const fromJson = jsonDetail(trimmed);
    if (fromJson) return fromJson;
  }
  const parts = message.split("|");
  if (parts.length >= 3 && /^Ex[0-9A-F]+$/i.test(parts[0] ?? "")) {
    return { exceptionType: parts[1]!, text: parts.slice(2).join("|") };
  }
  return { text: message };
}

function jsonDetail(text: string): { exceptionType?: string; text: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = lowerKeys(parsed);
  if (!o) return undefined;
  const message = o.message;
  const type = [o.typename, o.classname].find((v): v is string => typeof v === "string" && v.length > 0);
  if (typeof message !== "string" && type === undefined) return undefined;
  return { ...(type ? { exceptionType: type } : {}), text: typeof message === "string" ? message : "" };
}

/** The `X-ExceptionType` response header (any casing), when present. */
export function exceptionTypeHeader(headers: Headers): string | undefined {
  const value = headers.get("x-exceptiontype")?.trim();
  return value ? value : undefined;
}
