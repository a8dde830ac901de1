/**
 * Each Retry policy's window (the longest it waits in all: the sum of its delays, each
 * IntervalSeconds * BackoffRate^(n-1) capped at MaxDelaySeconds, over MaxAttempts retries)
 * computed from its fields, against what its comment in workflows/definition.ts and
 * docs/deploy.md say; and the Lambda service's errors retried for minutes in every Task state.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  driftCheckDefinition,
  offboardingDefinition,
  onboardingDefinition,
  RETRY_POLICIES,
  taskStates,
} from "../workflows/definition.ts";

type Retrier = Record<string, unknown>;

/** Seconds a retrier waits in all, at most (full jitter only shortens each delay). */
function windowSeconds(r: Retrier): number {
  const interval = Number(r["IntervalSeconds"] ?? 1);
  const rate = Number(r["BackoffRate"] ?? 2);
  const attempts = Number(r["MaxAttempts"] ?? 3);
  const cap = r["MaxDelaySeconds"] === undefined ? Number.POSITIVE_INFINITY : Number(r["MaxDelaySeconds"]);
  let total = 0;
  for (let n = 0; n < attempts; n++) total += Math.min(cap, interval * rate ** n);
  return total;
}

/** "14.1 minutes" / "15 seconds" as the docs write a window. */
function stated(text: string): number {
  const m = /([\d.]+) (minutes|seconds)/.exec(text);
  if (!m) throw new Error(`no window in: ${text}`);
  return Number(m[1]) * (m[2] === "minutes" ? 60 : 1);
}
/** The precision a window is written with: a tenth of a minute, or a second. */
const close = (computed: number, written: number) =>
  Math.abs(computed - written) <= (written >= 60 ? 3 : 0.5);

const source = readFileSync(new URL("../workflows/definition.ts", import.meta.url), "utf8");
const docs = readFileSync(new URL("../docs/deploy.md", import.meta.url), "utf8");

describe("Retry windows", () => {
  it("match the window each policy's comment states", () => {
    for (const [name, policy] of Object.entries(RETRY_POLICIES)) {
      const at = source.indexOf(`const ${name}: Json =`);
      const comment = source.slice(source.lastIndexOf("/**", at), at).replace(/\n\s*\*\s?/g, " ");
      const written = stated(/at most ([\d.]+ (?:minutes|seconds))/.exec(comment)?.[1] ?? comment);
      expect(
        close(windowSeconds(policy), written),
        `${name}: ${windowSeconds(policy)} s vs "${comment}"`,
      ).toBe(true);
    }
  });

  it("match docs/deploy.md's table", () => {
    for (const [name, policy] of Object.entries(RETRY_POLICIES)) {
      const row = docs.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      const written = stated(row!.split("|").at(-2)!);
      expect(close(windowSeconds(policy), written), `${name}: ${windowSeconds(policy)} s vs ${row}`).toBe(
        true,
      );
    }
  });

  it("THROTTLE_RETRY waits about an hour (60.5 minutes), not 40", () => {
    expect(windowSeconds(RETRY_POLICIES["THROTTLE_RETRY"]!)).toBe(3630);
  });

  it("every Task state waits out Lambda throttling for minutes (the drift check within its 5 minutes)", () => {
    const lambdaErrors = [
      "Lambda.TooManyRequestsException",
      "Lambda.ServiceException",
      "Lambda.AWSLambdaException",
    ];
    const machines = {
      onboarding: onboardingDefinition(() => "arn"),
      offboarding: offboardingDefinition(() => "arn"),
      drift: driftCheckDefinition(() => "arn"),
    };
    for (const [machine, definition] of Object.entries(machines)) {
      for (const { state, retry } of taskStates(definition)) {
        for (const error of lambdaErrors) {
          // Step Functions uses the first retrier that names the error (or States.ALL).
          const first = retry.find((r) => {
            const names = r["ErrorEquals"] as string[];
            return names.includes(error) || names.includes("States.ALL");
          });
          expect(first, `${machine} ${state} ${error}`).toBeDefined();
          const seconds = windowSeconds(first!);
          if (machine === "drift") {
            expect(seconds, `${state} ${error}`).toBeGreaterThanOrEqual(60);
            expect(seconds, `${state} ${error}`).toBeLessThan(300);
          } else {
            expect(seconds, `${machine} ${state} ${error}`).toBeGreaterThanOrEqual(10 * 60);
          }
        }
      }
    }
  });
});
