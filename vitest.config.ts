import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The AWS form's suites run with `npm run test:aws` (test/aws/vitest.config.ts).
    exclude: [...configDefaults.exclude, "test/aws/**"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // A committed `.only` would run one test and pass: CI (CI set, as .ci/run does) refuses it.
    allowOnly: !process.env["CI"],
  },
});
