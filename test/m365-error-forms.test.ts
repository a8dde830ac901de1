/**
 * The other form of Exchange's errors: `error.details[].message` as a JSON string
 * (`{"Message", "TypeName"}`, also `ClassName`) and the `X-ExceptionType` response header. Parsed
 * alone, and through the real client against the HTTPS simulator answering in that form.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseODataError } from "../functions/adapters/m365/error-details.ts";
import { errorFromResponse, m365ErrorDetails } from "../functions/adapters/m365/error-model.ts";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import {
  DehydratedOrganizationError,
  InvalidRequestError,
  TransientError,
} from "../functions/domain/errors.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { caught } from "./support/m365.ts";

const jsonDetailBody = (detail: Record<string, unknown>) =>
  JSON.stringify({
    error: {
      code: "BadRequest",
      message: "Error executing cmdlet",
      details: [{ code: "Context", target: "", message: JSON.stringify(detail) }],
    },
  });

describe("the JSON detail form and the X-ExceptionType header", () => {
  it("reads Message with TypeName or ClassName (any casing) from a JSON detail", () => {
    expect(
      parseODataError(jsonDetailBody({ Message: "the text", TypeName: "A.B.ServerInMMException" })),
    ).toMatchObject({ message: "the text", exceptionType: "A.B.ServerInMMException" });
    expect(parseODataError(jsonDetailBody({ message: "other", className: "X.YException" }))).toMatchObject({
      message: "other",
      exceptionType: "X.YException",
    });
    // Text that merely starts with a brace stays text.
    expect(parseODataError(jsonDetailBody({}).replace('"{}"', '"{not json"'))).toMatchObject({
      message: "{not json",
    });
  });

  it("classifies by the JSON detail's type and by the header when the body names none", () => {
    const map = (body: string, headers: Record<string, string> = {}) =>
      errorFromResponse("exchange", "Op", 400, new Headers(headers), body);
    const transient = map(jsonDetailBody({ Message: "busy", TypeName: "X.DCOverloadedException" }));
    expect(transient).toBeInstanceOf(TransientError);
    expect(transient.message).toBe("Op: busy");
    const bare = JSON.stringify({ error: { code: "BadRequest", message: "Error executing cmdlet" } });
    expect(map(bare)).toBeInstanceOf(InvalidRequestError);
    const fromHeader = map(bare, { "X-ExceptionType": "StorageTransientException" });
    expect(fromHeader).toBeInstanceOf(TransientError);
    expect(m365ErrorDetails(fromHeader)?.exceptionType).toBe("StorageTransientException");
  });
});

describe("against the simulator answering in the JSON form", () => {
  let sim: Simulator;
  let m365: ReturnType<typeof createM365Gateway>;
  beforeAll(async () => {
    sim = await startSimulator({ errorDetailForm: "json" });
    m365 = createM365Gateway({
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      endpoints: sim.endpoints,
      retry: { baseDelayMs: 1, maxDelayMs: 10 },
    });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("names the exception and keeps Exchange's text, without the JSON around it", async () => {
    const tenantId = crypto.randomUUID();
    sim.setDehydrated(tenantId, true);
    const exchange = m365.tenant(tenantId).exchange;
    const err = await caught(exchange.setTransportConfig({ journalingReportNdrTo: "x@example.com" }));
    expect(err).toBeInstanceOf(DehydratedOrganizationError);
    expect(err.message).not.toContain("TypeName");
    expect(err.message).toMatch(/^Set-TransportConfig: The command you tried to run isn't currently allowed/);
    expect(m365ErrorDetails(err)?.exceptionType).toMatch(/InvalidOperationInDehydratedContextException$/);
    const call = sim.calls(tenantId).find((c) => c.operation === "Set-TransportConfig");
    expect(call?.status).toBe(400);
  });
});
