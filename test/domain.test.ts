import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { missingFrom, sameSet } from "../functions/domain/normalize.ts";
import { AREA1, journalAddress, nameFor } from "../functions/domain/provider.ts";
import { connectorDrift, desiredConnectors } from "../functions/domain/steps/connector.ts";
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

describe("desired-state comparisons (no false drift)", () => {
  const host = fc.stringMatching(/^[a-z0-9-]{1,12}\.[a-z]{2,5}$/);
  const vary = (value: string, upper: boolean, prefix: boolean) =>
    `${prefix ? "smtp:" : ""}${upper ? value.toUpperCase() : value}`;

  it("ignores order, case and smtp: prefixes of lists", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(host, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.boolean(),
        (xs, upper, prefix) => {
          const shuffled = [...xs].reverse().map((x) => vary(x, upper, prefix));
          expect(sameSet(xs, shuffled)).toBe(true);
          expect(missingFrom(shuffled, xs)).toEqual([]);
        },
      ),
    );
  });

  it("sees a real difference", () => {
    fc.assert(
      fc.property(fc.uniqueArray(host, { minLength: 2, maxLength: 6 }), (xs) => {
        expect(sameSet(xs, xs.slice(1))).toBe(false);
        expect(missingFrom(xs.slice(1), xs)).toEqual([xs[0]]);
      }),
    );
  });

  it("a connector that matches the desired one up to case and order has no drift", () => {
    const ctx = {
      request: { region: "us", outboundGateway: true, customerName: "contoso" },
      profile: AREA1,
    } as const;
    fc.assert(
      fc.property(fc.boolean(), (upper) => {
        for (const desired of desiredConnectors(ctx as never)) {
          const current = {
            ...desired,
            comment: upper ? desired.comment.toUpperCase() : desired.comment,
            smartHosts: [...desired.smartHosts].reverse().map((h) => (upper ? h.toUpperCase() : h)),
            recipientDomains: desired.recipientDomains.map((d) => vary(d, upper, false)),
          };
          expect(connectorDrift(current, desired)).toEqual({});
          expect(connectorDrift({ ...current, tlsSettings: "EncryptionOnly" }, desired)).toEqual({
            tlsSettings: "CertificateValidation",
          });
        }
      }),
    );
  });
});
