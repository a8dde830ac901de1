import { defineConfig } from "vitest/config";

/**
 * The end-to-end suites that run on both forms (test/support/form.ts), here against the AWS form
 * (`npm run start:aws`); `npm test` runs the same files against the local form.
 */
export const BOTH_FORMS = [
  "test/e2e.test.ts",
  "test/walkthrough.test.ts",
  "test/tenant-created-at.test.ts",
  "test/permissions-drift.test.ts",
  "test/api-patch.test.ts",
  "test/customer-names.test.ts",
  "test/hand-over.test.ts",
  "test/binding.test.ts",
  "test/change-of-owner.test.ts",
  "test/change-of-owner-sequence.test.ts",
  "test/consent-browser.test.ts",
  "test/consent-callback-flood.test.ts",
  "test/http-utf8.test.ts",
  "test/webhooks-own-ports.test.ts",
  "test/least-privilege-consent.test.ts",
  "test/permissions-script.test.ts",
  "test/cli.test.ts",
  "test/cli-bulk.test.ts",
  "test/cli-import-rerun.test.ts",
  "test/console.test.ts",
  "test/console-newcomer.test.ts",
  "test/webhooks-policy.test.ts",
  "test/permissions-link.test.ts",
  "test/drift.test.ts",
  "test/stranded-e2e.test.ts",
  "test/webhooks-slow-endpoint.test.ts",
  "test/renamed-rules.test.ts",
  "test/renamed-groups.test.ts",
  "test/offboarded-identities.test.ts",
];

/** `npm run test:aws`: the AWS form's own suites, and the suites of both forms with FORM=aws. */
export default defineConfig({
  test: {
    include: ["test/aws/**/*.test.ts", ...BOTH_FORMS],
    env: { FORM: "aws" },
    globalSetup: ["test/aws/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Each file starts its own form (a JVM, a dozen Node processes): one file at a time on 2 cores.
    fileParallelism: false,
  },
});
