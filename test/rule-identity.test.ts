/**
 * What the journal-rules step decides about a rule the customer's admin renamed, with the real
 * Exchange adapter against the simulator: found by the Guid the service recorded, its name a
 * difference renamed back (never a second rule); a record without an identity (written before
 * identities were kept) works by name as before and gets the Guid recorded by its next run; a
 * rule someone else later gave our name is never taken for ours.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AREA1, journalAddress } from "../functions/domain/provider.ts";
import type { DiffContext } from "../functions/domain/steps/context.ts";
import { diffJournalRules } from "../functions/domain/steps/journal-rules.ts";
import { findOwnedJournalRule } from "../functions/domain/steps/object-identity.ts";
import { simulatorWithGateway } from "./support/m365.ts";

const suite = simulatorWithGateway();

const RULE = AREA1.journalRuleName;
const RENAMED = "Journaling (renamed by the admin)";

/** A tenant holding our rule, as onboarding created it; its Guid. */
async function tenantWithOurRule(): Promise<{ tenantId: string; guid: string }> {
  const tenantId = randomUUID();
  const exchange = suite.gateway.tenant(tenantId).exchange;
  await exchange.setTransportConfig({ journalingReportNdrTo: suite.sim.demo(tenantId).admin });
  const rule = await exchange.newJournalRule({
    name: RULE,
    journalEmailAddress: journalAddress(AREA1, "us", "contoso"),
    scope: "External",
    recipient: null,
    enabled: true,
  });
  return { tenantId, guid: rule.guid };
}

const context = (tenantId: string, ids: Record<string, string> | undefined): DiffContext => ({
  request: {
    tenantId,
    customerName: "contoso",
    region: "us",
    outboundGateway: false,
    ndrAddress: suite.sim.demo(tenantId).admin,
  },
  profile: AREA1,
  m365: suite.gateway.tenant(tenantId),
  owned: { connectors: [], groups: [], journalRules: [RULE] },
  ...(ids ? { objectIds: { journalRules: ids, groups: {} } } : {}),
});

describe("a journal rule the customer's admin renamed", () => {
  it("is found by its recorded Guid: its name is the one difference, and the step renames it back", async () => {
    const { tenantId, guid } = await tenantWithOurRule();
    suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    const diff = await diffJournalRules(context(tenantId, { [RULE]: guid }));
    expect(diff.differences).toEqual([
      {
        step: "journal-rules",
        object: `journal rule "${RULE}"`,
        field: "name",
        expected: RULE,
        actual: RENAMED,
      },
    ]);
    // Addressed by its Guid: a later write of the same run (enable) still finds it once renamed back.
    expect(diff.writes.map((w) => [w.cmdlet, w.parameters])).toEqual([
      ["Set-JournalRule", { Identity: guid, Name: RULE }],
    ]);
  });

  it("without a recorded identity (an older record) reads by name as before; a run records the Guid it finds", async () => {
    const { tenantId, guid } = await tenantWithOurRule();
    const inSync = await diffJournalRules(context(tenantId, undefined));
    expect(inSync.differences).toEqual([]);
    expect(inSync.writes).toEqual([]);
    expect(inSync.objects.flatMap((o) => o.actions)).toEqual([
      { kind: "record-id", idKind: "journalRules", name: RULE, id: guid },
    ]);
    // Recorded already: nothing to do.
    expect((await diffJournalRules(context(tenantId, { [RULE]: guid }))).objects).toEqual([]);
    suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    const missing = await diffJournalRules(context(tenantId, undefined));
    expect(missing.differences.map((d) => d.field)).toEqual(["exists"]);
  });

  it("a rule someone else later gave our name is not taken for ours", async () => {
    const { tenantId, guid } = await tenantWithOurRule();
    suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    await suite.gateway.tenant(tenantId).exchange.newJournalRule({
      name: RULE,
      journalEmailAddress: "archive@vault.example",
      scope: "Global",
      recipient: null,
      enabled: true,
    });
    const ours = await findOwnedJournalRule(context(tenantId, { [RULE]: guid }), RULE);
    expect(ours).toMatchObject({ name: RENAMED, guid, identity: guid });
    // Without the Guid only the name is known: the rule of that name (what older records did).
    expect((await findOwnedJournalRule(context(tenantId, undefined), RULE))?.guid).not.toBe(guid);
  });
});
