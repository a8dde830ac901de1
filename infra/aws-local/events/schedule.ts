/**
 * EventBridge schedule expressions (UTC): `rate(value unit)`, counted from the rule's creation
 * (kept in DATA_DIR), and `cron(minutes hours day-of-month month day-of-week year)` with `*`,
 * `?`, lists, ranges, steps and month/day names (day-of-week 1-7 is SUN-SAT). A firing missed
 * while the form was stopped is not replayed: the next one is the first scheduled time after now.
 */

export type Schedule = (after: number) => number;

export function parseSchedule(expression: string, anchor: number): Schedule {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const unit = rate[2]?.startsWith("minute")
      ? 60_000
      : rate[2]?.startsWith("hour")
        ? 3_600_000
        : 86_400_000;
    const period = Number(rate[1]) * unit;
    if (period <= 0) throw new Error(`invalid schedule ${expression}`);
    return (after) => anchor + (Math.floor((after - anchor) / period) + 1) * period;
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (cron?.[1]) return cronSchedule(cron[1]);
  throw new Error(`invalid schedule expression ${expression}`);
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

function field(
  text: string,
  min: number,
  max: number,
  names: string[] = [],
  offset = 0,
): Set<number> | "any" {
  if (text === "*" || text === "?") return "any";
  const out = new Set<number>();
  const value = (v: string) => {
    const named = names.indexOf(v.toUpperCase());
    const n = named >= 0 ? named + offset : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`cron value ${v} is out of range`);
    return n;
  };
  for (const part of text.split(",")) {
    const [range = "", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    const [from, to] =
      range === "*"
        ? [min, max]
        : range.includes("-")
          ? range.split("-").map(value)
          : [value(range), stepText ? max : value(range)];
    for (let n = from as number; n <= (to as number); n += step) out.add(n);
  }
  return out;
}

function cronSchedule(text: string): Schedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 6) throw new Error(`cron(${text}) needs 6 fields`);
  const [mi, ho, dom, mo, dow, yr] = parts as [string, string, string, string, string, string];
  if (/[LW#]/.test(`${dom}${dow}`))
    throw new Error(`cron(${text}): L, W and # are not supported by the AWS form`);
  const minutes = field(mi, 0, 59);
  const hours = field(ho, 0, 23);
  const days = field(dom, 1, 31);
  const months = field(mo, 1, 12, MONTHS, 1);
  const weekdays = field(dow, 1, 7, DAYS, 1);
  const years = field(yr, 1970, 2199);
  const has = (set: Set<number> | "any", n: number) => set === "any" || set.has(n);
  return (after) => {
    const t = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
    for (let guard = 0; guard < 5 * 366 * 24 * 60; guard++) {
      const dayOk =
        has(years, t.getUTCFullYear()) &&
        has(months, t.getUTCMonth() + 1) &&
        has(days, t.getUTCDate()) &&
        has(weekdays, t.getUTCDay() + 1);
      if (!dayOk) {
        t.setUTCHours(24, 0, 0, 0);
        continue;
      }
      if (!has(hours, t.getUTCHours())) {
        t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
        continue;
      }
      if (has(minutes, t.getUTCMinutes())) return t.getTime();
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    }
    throw new Error(`cron(${text}) never fires`);
  };
}
