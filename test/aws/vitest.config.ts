import { defineConfig } from "vitest/config";

/** `npm run test:aws`: the end-to-end suites against the deployed form (`npm run start:aws`). */
export default defineConfig({
  test: {
    include: ["test/aws/**/*.test.ts"],
    globalSetup: ["test/aws/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Each file starts its own form (a JVM, a dozen Node processes): one file at a time on 2 cores.
    fileParallelism: false,
  },
});
