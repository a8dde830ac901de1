/**
 * Sizes of the reliability suites: `npm run test:reliability` sets RELIABILITY_SCALE=full;
 * plain `npm test` runs them small so that the whole run stays quick on a 2-core machine.
 */
export const FULL_SCALE = process.env["RELIABILITY_SCALE"] === "full";

/** The small size, or the full one under RELIABILITY_SCALE=full. */
export function sized<T>(small: T, full: T): T {
  return FULL_SCALE ? full : small;
}

/** `1,873` */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Per test: a bound for a hang, far above the normal duration (no timing is asserted). */
export const TEST_TIMEOUT_MS = sized(120_000, 600_000);
