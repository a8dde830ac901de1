/**
 * The Get- pages of Get-OutboundConnector, Get-JournalRule and Get-DistributionGroup caution
 * that "a non-existent value for the Identity parameter returns *all* objects as if you ran the
 * Get- command without the Identity parameter" (docs/m365-fidelity.md E12, assumed for the REST
 * API: public code sees ManagementObjectNotFoundException). With the simulator answering so, the
 * service must never take the customer's own connector, rule or list for one of its own: nothing
 * of theirs is changed by onboarding or removed by offboarding. Through the real workflow.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegionMode } from "../functions/domain/provider.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
  h.sim.configure({ identityMissReturnsAll: true });
});
afterAll(async () => {
  await h?.close();
});

describe("an -Identity that matches nothing answers every object", () => {
  it.each([
    ["us", true],
    ["split", true],
  ] as const)(
    "%s, outboundGateway=%s: the customer's own connector, rule and list are neither changed nor removed",
    async (region: RegionMode, outboundGateway) => {
      const tenantId = randomUUID();
      const demo = h.sim.demo(tenantId);
      const ex = h.m365.tenant(tenantId).exchange;
      await ex.newOutboundConnector({
        name: "Contoso archive relay",
        comment: "set up by hand",
        connectorType: "Partner",
        recipientDomains: ["customer-archive.example"],
        smartHosts: ["relay.customer-archive.example"],
        useMxRecord: false,
        tlsSettings: "EncryptionOnly",
        enabled: true,
      });
      await ex.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
      await ex.newJournalRule({
        name: "Legal hold archive",
        journalEmailAddress: "journal@customer-archive.example",
        scope: "Global",
        recipient: null,
        enabled: true,
      });
      await ex.newDistributionGroup({
        name: "Finance team",
        primarySmtpAddress: `finance-team@${demo.domain}`,
        members: [demo.alice],
      });
      const theirs = () => {
        const s = h.sim.tenant(tenantId);
        return {
          connector: s.connectors.find((c) => c.name === "Contoso archive relay"),
          rule: s.journalRules.find((r) => r.name === "Legal hold archive"),
          group: s.recipients.find((r) => r.name === "Finance team"),
        };
      };
      const before = theirs();
      expect(before.connector && before.rule && before.group).toBeTruthy();

      const tenant = await h.onboard(h.request({ tenantId, region, outboundGateway }));
      expect(tenant.error ?? tenant.status).toBe("succeeded");
      const during = h.sim.tenant(tenantId);
      expect(theirs()).toEqual(before);
      // Ours exist beside theirs.
      expect(during.journalRules).toHaveLength(1 + (region === "split" ? 2 : 1));
      expect(during.connectors).toHaveLength(1 + (region === "split" ? 2 : 1));

      const after = await h.offboard(tenantId);
      expect(after.error ?? after.status).toBe("offboarded");
      expect(theirs()).toEqual(before);
      const end = h.sim.tenant(tenantId);
      expect(end.journalRules.map((r) => r.name)).toEqual(["Legal hold archive"]);
      expect(end.connectors.map((c) => c.name)).toEqual(["Contoso archive relay"]);
    },
  );
});
