// `npm run test:aws`: synthesize once (when cdk.out is missing or stale) before the suites
// start their forms, so that no two forms synthesize at once; then start the form that the
// suites of both forms share (test/support/form.ts: those that set no variable of their own).
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ROOT, synthIfStale } from "../../infra/aws-local/setup.ts";
import { AwsForm, SHARED_FORM_ENV, type SharedForm } from "./support/form.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The AWS form shared by the files of this run (undefined: none started). */
    sharedAwsForm: SharedForm | undefined;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  synthIfStale(join(ROOT, "cdk.out"), (line) => process.stdout.write(`${line}\n`));
  const form = new AwsForm(SHARED_FORM_ENV);
  await form.start();
  project.provide("sharedAwsForm", form.shared);
  return async () => {
    await form.close();
  };
}
