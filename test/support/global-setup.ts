// Global test setup: one in-memory dynalite for the whole run; each test file makes its own
// table on it (test/support/dynamodb.ts).
import type { TestProject } from "vitest/node";
import { startDynalite } from "../../infra/local/dynamodb.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the shared dynalite. */
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamodb = await startDynalite();
  project.provide("dynamodbEndpoint", dynamodb.endpoint);
  return async () => {
    await dynamodb.close();
  };
}
