/**
 * The AWS form's Lambda-like environments on a small template of their own: the bundle's
 * handler run in a child process of Node 24 with Lambda's variables, events and results
 * through JSON, errors as {errorType, errorMessage}, `Sandbox.Timedout` after the Timeout,
 * `Runtime.ExitError` on a crash, warm reuse and cold starts, TooManyRequestsException past the
 * reserved concurrency (refused, never queued).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialStore } from "../../infra/aws-local/lambda/credentials.ts";
import { createLambdaService, type LambdaService } from "../../infra/aws-local/lambda/index.ts";
import { ROOT } from "../../infra/aws-local/setup.ts";
import { loadAssembly } from "../../infra/aws-local/template.ts";

const HANDLER = `
export const handler = async (event, context) => {
  if (event.throw) { const e = new Error("no such tenant"); e.name = "TenantNotFoundError"; throw e; }
  if (event.exit !== undefined) process.exit(event.exit);
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return {
    event,
    pid: process.pid,
    name: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memory: context.memoryLimitInMB,
    tz: process.env.TZ,
    endpoint: process.env.AWS_ENDPOINT_URL,
    table: process.env.TABLE_NAME,
    remaining: context.getRemainingTimeInMillis(),
    node: process.version,
  };
};`;

let lambda: LambdaService;
let small: LambdaService;
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "aws-lambda-"));
  mkdirSync(join(dir, "asset.fixture"));
  writeFileSync(join(dir, "asset.fixture", "index.mjs"), HANDLER);
  const fn = (extra: Record<string, unknown>) => ({
    Type: "AWS::Lambda::Function",
    Properties: {
      Handler: "index.handler",
      MemorySize: 256,
      Timeout: 2,
      Role: "arn:aws:iam::000000000000:role/fixture",
      Environment: { Variables: { TABLE_NAME: { "Fn::Join": ["-", [{ Ref: "AWS::StackName" }, "t"]] } } },
      ...extra,
    },
    Metadata: { "aws:asset:path": "asset.fixture" },
  });
  const template = { Resources: { Free: fn({}), Reserved: fn({ ReservedConcurrentExecutions: 1 }) } };
  writeFileSync(join(dir, "JournalOnboarding.template.json"), JSON.stringify(template));
  const options = {
    assembly: loadAssembly(dir, { cloudUrl: "http://127.0.0.1:9" }),
    credentials: new CredentialStore(),
    cloudUrl: "http://127.0.0.1:9",
    nodePath: join(ROOT, "node_modules/.bin/node"),
    logLevel: "SILENT",
  };
  // An account whose concurrency is 2: 1 reserved by `Reserved`, 1 left for every other function.
  small = createLambdaService({ ...options, accountConcurrency: 2 });
  lambda = createLambdaService({
    assembly: loadAssembly(dir, { cloudUrl: "http://127.0.0.1:9" }),
    credentials: new CredentialStore(),
    cloudUrl: "http://127.0.0.1:9",
    nodePath: join(ROOT, "node_modules/.bin/node"),
    logLevel: "SILENT",
  });
});
afterAll(async () => {
  await lambda?.close();
  await small?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("Lambda-like environments", () => {
  it("runs the handler with Lambda's variables and the template's, on Node 24, reusing a warm environment", async () => {
    const first = await lambda.invoke("Free", { hello: "world" });
    expect(first).toMatchObject({
      ok: true,
      payload: {
        event: { hello: "world" },
        name: "JournalOnboarding-Free",
        memory: "256",
        tz: "UTC",
        endpoint: "http://127.0.0.1:9",
        table: "JournalOnboarding-t",
        node: expect.stringMatching(/^v24\./),
      },
    });
    const payload = (first as { payload: { remaining: number; pid: number } }).payload;
    expect(payload.remaining).toBeGreaterThan(1000);
    expect(payload.remaining).toBeLessThanOrEqual(2000);
    const second = await lambda.invoke(
      "arn:aws:lambda:us-east-1:000000000000:function:JournalOnboarding-Free",
      {},
    );
    expect((second as { payload: { pid: number } }).payload.pid).toBe(payload.pid);
    expect(lambda.stats()["Free"]).toMatchObject({ coldStarts: 1, invocations: 2 });
  });

  it("answers a thrown error with its name and message", async () => {
    await expect(lambda.invoke("Free", { throw: true })).resolves.toMatchObject({
      ok: false,
      errorType: "TenantNotFoundError",
      errorMessage: "no such tenant",
    });
  });

  it("kills an environment past its Timeout: Sandbox.Timedout, and the next invocation starts cold", async () => {
    const cold = lambda.stats()["Free"]!.coldStarts;
    const result = await lambda.invoke("Free", { sleepMs: 5_000 });
    expect(result).toMatchObject({
      ok: false,
      errorType: "Sandbox.Timedout",
      errorMessage: expect.stringMatching(/Task timed out after 2\.00 seconds$/),
    });
    await expect(lambda.invoke("Free", {})).resolves.toMatchObject({ ok: true });
    expect(lambda.stats()["Free"]!.coldStarts).toBe(cold + 1);
  });

  it("answers a crash with Runtime.ExitError", async () => {
    await expect(lambda.invoke("Free", { exit: 3 })).resolves.toMatchObject({
      ok: false,
      errorType: "Runtime.ExitError",
      errorMessage: expect.stringContaining("exit status 3"),
    });
  });

  it("starts environments cold when all are busy, and refuses past the reserved concurrency", async () => {
    await lambda.invoke("Free", {}); // one warm environment (the crash above left none)
    const cold = lambda.stats()["Free"]!.coldStarts;
    const both = await Promise.all([
      lambda.invoke("Free", { sleepMs: 300 }),
      lambda.invoke("Free", { sleepMs: 300 }),
    ]);
    expect(both.every((r) => r.ok)).toBe(true);
    expect(lambda.stats()["Free"]!.coldStarts).toBe(cold + 1);

    const [one, two] = await Promise.all([
      lambda.invoke("Reserved", { sleepMs: 500 }),
      lambda.invoke("Reserved", { sleepMs: 500 }),
    ]);
    expect(one).toMatchObject({ ok: true });
    expect(two).toMatchObject({ ok: false, refused: true, errorType: "TooManyRequestsException" });
    expect(lambda.stats()["Reserved"]).toMatchObject({ throttles: 1, invocations: 1 });
  });

  it("refuses past the account's unreserved concurrency (LAMBDA_ACCOUNT_CONCURRENCY less the reservations)", async () => {
    const [one, two] = await Promise.all([
      small.invoke("Free", { sleepMs: 500 }),
      small.invoke("Free", { sleepMs: 500 }),
    ]);
    expect(one).toMatchObject({ ok: true });
    expect(two).toMatchObject({ ok: false, refused: true, errorType: "TooManyRequestsException" });
    // The reservation stays usable beside it.
    await expect(small.invoke("Reserved", {})).resolves.toMatchObject({ ok: true });
  });
});
