/**
 * EventBridge event patterns: every field of the pattern must match; a list matches when the
 * event's value (or, for an array value, any of its elements) matches one of its items; a nested
 * object matches the event's nested object. Items are literals or content filters: `prefix`,
 * `suffix`, `anything-but`, `exists`, `numeric`, `equals-ignore-case`, `wildcard`.
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function matches(pattern: Record<string, unknown>, event: unknown): boolean {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return false;
  const object = event as Record<string, unknown>;
  return Object.entries(pattern).every(([key, rule]) => {
    const value = object[key];
    if (Array.isArray(rule)) return matchesList(rule as Json[], value, key in object);
    if (rule !== null && typeof rule === "object") {
      return value !== null && typeof value === "object" && matches(rule as Record<string, unknown>, value);
    }
    throw new Error(`event pattern field ${key} must be a list or an object`);
  });
}

function matchesList(items: Json[], value: unknown, present: boolean): boolean {
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  return items.some((item) => {
    if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      if ("exists" in item) return item["exists"] === (present && value !== undefined);
      return present && values.some((v) => matchesFilter(item, v));
    }
    return present && values.some((v) => v === item);
  });
}

function matchesFilter(filter: { [key: string]: Json }, value: unknown): boolean {
  const [[kind, arg]] = Object.entries(filter) as [[string, Json]];
  switch (kind) {
    case "prefix":
      return typeof value === "string" && typeof arg === "string" && value.startsWith(arg);
    case "suffix":
      return typeof value === "string" && typeof arg === "string" && value.endsWith(arg);
    case "equals-ignore-case":
      return (
        typeof value === "string" && typeof arg === "string" && value.toLowerCase() === arg.toLowerCase()
      );
    case "wildcard":
      return typeof value === "string" && typeof arg === "string" && wildcard(arg).test(value);
    case "anything-but": {
      if (Array.isArray(arg)) return !arg.some((a) => a === value);
      if (arg !== null && typeof arg === "object")
        return !matchesFilter(arg as { [key: string]: Json }, value);
      return value !== arg;
    }
    case "numeric":
      return typeof value === "number" && Array.isArray(arg) && numeric(arg, value);
    default:
      throw new Error(`event pattern filter ${kind} is not supported by the AWS form`);
  }
}

function numeric(conditions: Json[], value: number): boolean {
  for (let i = 0; i + 1 < conditions.length; i += 2) {
    const op = conditions[i];
    const bound = Number(conditions[i + 1]);
    const ok =
      op === "<"
        ? value < bound
        : op === "<="
          ? value <= bound
          : op === ">"
            ? value > bound
            : op === ">="
              ? value >= bound
              : op === "="
                ? value === bound
                : false;
    if (!ok) return false;
  }
  return true;
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}
