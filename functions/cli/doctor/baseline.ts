/**
 * The tenant's answers compared with the simulator's (docs/doctor-baseline.json), and the
 * baseline file's content from a report (`npm run doctor:baseline` runs it on the simulator).
 */
import type { DoctorReport, Observation, Shape } from "./report.ts";

export function compareShape(o: Observation, base: Shape | undefined): DoctorReport["baseline"][number] {
  if (!base) return { key: o.key, verdict: "no-baseline", detail: "the simulator has no answer for this" };
  if (base.error || o.shape.error) {
    const same =
      base.error?.status === o.shape.error?.status &&
      base.error?.exceptionType === o.shape.error?.exceptionType;
    return {
      key: o.key,
      verdict: same ? "same" : "differs",
      detail: `simulator ${JSON.stringify(base.error ?? "ok")}, tenant ${JSON.stringify(o.shape.error ?? "ok")}`,
    };
  }
  const a = base.properties ?? {};
  const b = o.shape.properties ?? {};
  // Rows may be absent on either side (an empty tenant): compare only when both have rows.
  if ((base.rows ?? 0) === 0 || (o.shape.rows ?? 0) === 0)
    return { key: o.key, verdict: "same", detail: "no rows to compare" };
  const missing = Object.keys(a).filter((k) => !(k in b));
  const typed = Object.keys(a).filter((k) => k in b && a[k] !== b[k] && a[k] !== "null" && b[k] !== "null");
  const detail = [
    missing.length ? `the tenant lacks ${missing.join(", ")}` : "",
    typed.length ? `types differ: ${typed.map((k) => `${k} ${a[k]} vs ${b[k]}`).join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
  return {
    key: o.key,
    verdict: detail ? "differs" : "same",
    detail: detail || "every property the simulator answers is there, with its type",
  };
}

/** The baseline file's content from a report (`npm run doctor:baseline` runs it on the simulator). */
export function baselineOf(report: DoctorReport): { generatedFrom: string; shapes: Record<string, Shape> } {
  const shapes: Record<string, Shape> = {};
  for (const o of [...report.observations].sort((x, y) => x.key.localeCompare(y.key))) {
    if (o.key.startsWith("denied:")) continue;
    shapes[o.key] = o.shape.error
      ? { error: o.shape.error }
      : { properties: o.shape.properties ?? {}, rows: Math.min(o.shape.rows ?? 0, 1) };
  }
  return { generatedFrom: "the Microsoft 365 simulator (npm run doctor:baseline)", shapes };
}
