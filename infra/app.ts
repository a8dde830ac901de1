/**
 * CDK app: `npx cdk synth` / `npx cdk deploy` (docs/deploy.md). Context (`-c key=value`):
 * `alarmEmail`, `m365Cloud`, `m365ClientId`, `consentRedirectUri`, `webAclArn`, `stackName`.
 * cdk-nag's AwsSolutions pack runs on every synth; an unacknowledged finding fails it.
 */
import { App, Validations } from "aws-cdk-lib";
import nag from "cdk-nag";
import type { M365Cloud } from "../functions/commons/config.ts";
import { JournalOnboardingStack } from "./aws/stack.ts";

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === "string" && value !== "" ? value : undefined;
};
const alarmEmail = context("alarmEmail");
const m365Cloud = context("m365Cloud");
const webAclArn = context("webAclArn");
const m365ClientId = context("m365ClientId");
const consentRedirectUri = context("consentRedirectUri");
const driftCheckInterval = context("driftCheckInterval");
/** A whole number of at least `min` from the context, or undefined when not given. */
const count = (key: string, min: number): number | undefined => {
  const value = context(key);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`context ${key} must be a whole number >= ${min}`);
  return n;
};
const driftRemediationsPerDay = count("driftRemediationsPerDay", 0);
const eventRetentionDays = count("eventRetentionDays", 1);
const offboardedRetentionDays = count("offboardedRetentionDays", 1);
new JournalOnboardingStack(app, context("stackName") ?? "JournalOnboarding", {
  ...(alarmEmail ? { alarmEmail } : {}),
  ...(m365Cloud ? { m365Cloud: m365Cloud as M365Cloud } : {}),
  ...(webAclArn ? { webAclArn } : {}),
  ...(m365ClientId ? { m365ClientId } : {}),
  ...(consentRedirectUri ? { consentRedirectUri } : {}),
  ...(driftCheckInterval ? { driftCheckInterval } : {}),
  ...(driftRemediationsPerDay !== undefined ? { driftRemediationsPerDay } : {}),
  ...(eventRetentionDays !== undefined ? { eventRetentionDays } : {}),
  ...(offboardedRetentionDays !== undefined ? { offboardedRetentionDays } : {}),
});
Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app));
app.synth();
