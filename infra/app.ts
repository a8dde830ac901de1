/**
 * CDK app: `npx cdk synth` / `npx cdk deploy` (docs/deploy.md). Every setting is context
 * (`-c name=value`, or in cdk.json), read by `infra/aws/app-context.ts`.
 * cdk-nag's AwsSolutions pack runs on every synth; an unacknowledged finding fails it.
 */
import { App, Validations } from "aws-cdk-lib";
import nag from "cdk-nag";
import { stackFromContext } from "./aws/app-context.ts";

const app = new App();
stackFromContext(app);
Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app));
app.synth();
