/**
 * The drift fan-out Lambda called with EventBridge's scheduled event: the tick is the event's
 * `time`, not the clock of the invocation (a late or retried delivery serves its own tick), and
 * a second delivery of the same event starts nothing. The table is dynalite (the SDK's
 * service endpoint variables point the function's clients at it); Step Functions is a small
 * HTTP stand-in that records StartExecution (no local Step Functions API here).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseDriftInterval } from "../functions/domain/drift.ts";
import { nextTickOf } from "../functions/domain/drift-ticks.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const started: { name: string; input: string }[] = [];
let sfn: Server;
let db: FreshTable;

beforeAll(async () => {
  db = await freshTable();
  sfn = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      started.push({ name: body.name, input: body.input });
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      res.end(
        JSON.stringify({
          executionArn: `arn:aws:states:us-east-1:123456789012:express:drift:${body.name}`,
          startDate: 1,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => sfn.listen(0, "127.0.0.1", resolve));
  Object.assign(process.env, {
    TABLE_NAME: db.tableName,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamodbEndpoint"),
    AWS_ENDPOINT_URL_SFN: `http://127.0.0.1:${(sfn.address() as AddressInfo).port}`,
    DRIFT_STATE_MACHINE_ARN: "arn:aws:states:us-east-1:123456789012:stateMachine:drift",
    DRIFT_CHECK_INTERVAL: "6h",
    DRIFT_SPREAD_SECONDS: "0",
    POWERTOOLS_TRACE_ENABLED: "false",
    POWERTOOLS_DEV: "true",
    POWERTOOLS_LOG_LEVEL: "ERROR",
  });
});

afterAll(async () => {
  sfn.closeAllConnections();
  await new Promise<void>((resolve) => sfn.close(() => resolve()));
});

describe("the drift fan-out handler", () => {
  it("serves the tick of the event's time, once, whenever it is delivered", async () => {
    const tenantId = "30000000-0000-4000-8000-000000000001";
    const succeededAt = "2026-06-01T00:00:00.000Z";
    await db.store.registerTenant(
      "p_fan",
      {
        tenantId,
        customerName: "contoso",
        region: "us",
        outboundGateway: false,
        ndrAddress: "a@contoso.example",
      },
      succeededAt,
    );
    await db.store.transition(tenantId, { status: "succeeded" }, succeededAt);
    const tick = nextTickOf(tenantId, parseDriftInterval("6h"), Date.parse(succeededAt) + 1);
    const event = {
      "detail-type": "Scheduled Event",
      source: "aws.events",
      time: new Date(tick).toISOString().replace(".000Z", "Z"),
      detail: {},
    };
    const { handler } = await import("../functions/tasks/drift-fan-out.ts");
    const context = {
      functionName: "DriftFanOut",
      awsRequestId: "r1",
      getRemainingTimeInMillis: () => 60_000,
    };
    // Delivered now, long after its time: the event names the tick.
    expect(await handler(event as never, context as never)).toEqual({ started: 1 });
    expect(started.map((s) => s.name)).toEqual([`drift-${tenantId}-tick-${tick.toString(36)}`]);
    expect(JSON.parse(started[0]!.input)).toMatchObject({ tenantId, run: 0 });
    // EventBridge delivers it again (a retry): nothing more starts.
    expect(await handler(event as never, context as never)).toEqual({ started: 0 });
    expect(started).toHaveLength(1);
  });
});
