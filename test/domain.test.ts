import { describe, expect, it } from "vitest";
import { AREA1, journalAddress, nameFor } from "../functions/domain/provider.ts";
import { initialSteps } from "../functions/domain/tenant.ts";

describe("provider profile", () => {
  it("derives journaling addresses per region", () => {
    expect(journalAddress(AREA1, "us", "contoso")).toBe("contoso@journaling.mxrecord.io");
    expect(journalAddress(AREA1, "eu", "contoso")).toBe("contoso@mailstream-eu.journaling.mxrecord.io");
  });
  it("tags split-mode names", () => {
    expect(nameFor(AREA1.connectorName, "split", "eu", "connector")).toBe(
      "Deliver journal directly to Area 1 (EU)",
    );
    expect(nameFor(AREA1.connectorName, "split", "us", "connector")).toBe(
      "Deliver journal directly to Area 1",
    );
    expect(nameFor(AREA1.journalRuleName, "split", "us", "rule")).toBe(
      "Journal Messages to CloudflareArea 1 (US)",
    );
    expect(nameFor(AREA1.journalRuleName, "us", "us", "rule")).toBe("Journal Messages to CloudflareArea 1");
  });
});

describe("initial steps", () => {
  it("skips what the request does not need", () => {
    const steps = initialSteps({ region: "us", outboundGateway: false });
    expect(steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      "check-access:pending",
      "connector:skipped",
      "validate-connector:skipped",
      "journal-settings:pending",
      "groups:skipped",
      "journal-rules:pending",
    ]);
  });
});
