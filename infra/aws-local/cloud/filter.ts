/**
 * Lambda's event filtering (FilterCriteria): a record passes when any filter's pattern matches
 * it. A pattern is an object whose keys must all match; a leaf is a list of allowed values:
 * literals, `{prefix}`, `{suffix}`, `{exists}`, `{anything-but}`, `{numeric}`. A record
 * value that is a list matches when any element does.
 */
type Pattern = Record<string, unknown>;

export function matchesAny(filters: { Pattern: string }[] | undefined, record: unknown): boolean {
  if (!filters || filters.length === 0) return true;
  return filters.some((f) => matches(JSON.parse(f.Pattern) as Pattern, record));
}

export function matches(pattern: Pattern, value: unknown): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const actual =
      value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(expected)) {
      if (!leafMatches(expected, actual)) return false;
    } else if (expected !== null && typeof expected === "object") {
      if (actual === null || typeof actual !== "object" || !matches(expected as Pattern, actual))
        return false;
    } else return false;
  }
  return true;
}

function leafMatches(allowed: unknown[], actual: unknown): boolean {
  const values = Array.isArray(actual) ? actual : [actual];
  return allowed.some((rule) => {
    if (rule !== null && typeof rule === "object") {
      const [op, arg] = Object.entries(rule)[0] as [string, unknown];
      switch (op) {
        case "exists":
          return (actual !== undefined) === arg;
        case "prefix":
          return values.some((v) => typeof v === "string" && v.startsWith(String(arg)));
        case "suffix":
          return values.some((v) => typeof v === "string" && v.endsWith(String(arg)));
        case "anything-but": {
          const list = Array.isArray(arg) ? arg : [arg];
          return actual !== undefined && values.every((v) => !list.includes(v));
        }
        case "numeric":
          return values.some((v) => typeof v === "number" && numeric(arg as unknown[], v));
        default:
          return false;
      }
    }
    return actual !== undefined && values.some((v) => v === rule);
  });
}

function numeric(conditions: unknown[], v: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const [op, n] = [conditions[i], Number(conditions[i + 1])];
    const ok =
      op === "="
        ? v === n
        : op === "<"
          ? v < n
          : op === "<="
            ? v <= n
            : op === ">"
              ? v > n
              : op === ">="
                ? v >= n
                : false;
    if (!ok) return false;
  }
  return true;
}
