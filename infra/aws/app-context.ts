/**
 * The stack's settings from the CDK context (`-c name=value`, or `context` in cdk.json), every
 * one of docs/deploy.md's: text as given, numbers and limits checked here so that a typo fails
 * the synth instead of deploying a default.
 */
import type { App } from "aws-cdk-lib";
import type { M365Cloud } from "../../functions/commons/config.ts";
import {
  JournalOnboardingStack,
  type JournalOnboardingStackProps,
  type ReservedConcurrency,
} from "./stack.ts";

/** Every context name the app reads. */
export const CONTEXT_SETTINGS = [
  "alarmEmail",
  "m365Cloud",
  "webAclArn",
  "stackName",
  "m365ClientId",
  "consentRedirectUri",
  "driftCheckInterval",
  "driftRemediationsPerDay",
  "strandedAfterSeconds",
  "eventRetentionDays",
  "offboardedRetentionDays",
  "reservedConcurrency",
  "partnerRateLimit",
  "opsRateLimit",
  "apiThrottling",
  "tableIndexes",
  "tableEncryptionKeyArn",
  "webhookSecretKeyArn",
] as const;

type Setting = (typeof CONTEXT_SETTINGS)[number];

/** The stack the context describes, in `app`. */
export function stackFromContext(app: App): JournalOnboardingStack {
  const text = (key: Setting): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    if (value === undefined || value === null || value === "") return undefined;
    return String(value).trim();
  };
  const count = (key: Setting, min: number): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`context ${key} must be a whole number >= ${min}`);
    return n;
  };
  /** `25/50`: requests per second / burst. */
  const limit = (key: Setting) => {
    const value = text(key);
    if (value === undefined) return undefined;
    const m = /^(\d+)\s*\/\s*(\d+)$/.exec(value);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
      throw new Error(`context ${key} must be <requests per second>/<burst>, e.g. 25/50; got ${value}`);
    }
    return { rateLimit: Number(m[1]), burstLimit: Number(m[2]) };
  };
  const props: JournalOnboardingStackProps = {};
  const set = <K extends keyof JournalOnboardingStackProps>(
    k: K,
    v: JournalOnboardingStackProps[K] | undefined,
  ) => {
    if (v !== undefined) (props as Record<string, unknown>)[k] = v;
  };
  set("alarmEmail", text("alarmEmail"));
  set("m365Cloud", text("m365Cloud") as M365Cloud | undefined);
  set("webAclArn", text("webAclArn"));
  set("m365ClientId", text("m365ClientId"));
  set("consentRedirectUri", text("consentRedirectUri"));
  set("driftCheckInterval", text("driftCheckInterval"));
  set("driftRemediationsPerDay", count("driftRemediationsPerDay", 0));
  set("strandedAfterSeconds", count("strandedAfterSeconds", 60));
  set("eventRetentionDays", count("eventRetentionDays", 1));
  set("offboardedRetentionDays", count("offboardedRetentionDays", 1));
  set("reservedConcurrency", reservedConcurrency(text("reservedConcurrency")));
  set("partnerRateLimit", limit("partnerRateLimit"));
  set("opsRateLimit", limit("opsRateLimit"));
  set("apiThrottling", limit("apiThrottling"));
  set(
    "tableIndexes",
    text("tableIndexes")
      ?.split(",")
      .map((n) => n.trim()),
  );
  set("tableEncryptionKeyArn", text("tableEncryptionKeyArn"));
  set("webhookSecretKeyArn", text("webhookSecretKeyArn"));
  return new JournalOnboardingStack(app, text("stackName") ?? "JournalOnboarding", props);
}

/** `off` (none), or `api=100,authorizer=50,webhookDispatcher=20` (any of them; the others keep their defaults). */
export function reservedConcurrency(
  value: string | undefined,
): Partial<ReservedConcurrency> | null | undefined {
  if (value === undefined) return undefined;
  if (/^(off|none|false)$/i.test(value)) return null;
  const out: Partial<ReservedConcurrency> = {};
  for (const part of value.split(",")) {
    const m = /^\s*(api|authorizer|webhookDispatcher)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m || Number(m[2]) < 1) {
      throw new Error(
        `context reservedConcurrency must be off, or e.g. api=100,authorizer=50,webhookDispatcher=20 (each >= 1); got ${value}`,
      );
    }
    out[m[1] as keyof ReservedConcurrency] = Number(m[2]);
  }
  return out;
}
