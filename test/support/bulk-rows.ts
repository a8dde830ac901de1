/**
 * CSV rows of simulated tenants for `tenants import`, valid for the Microsoft 365 simulator's demo
 * mailboxes; no test runner needed (the benchmarks use them too).
 */
import { randomUUID } from "node:crypto";
import { demoOnboardingRequest } from "../../infra/local/m365-simulator/index.ts";

export const HEADER =
  "tenantId,customerName,region,outboundGateway,ndrAddress,eu_group_name,eu_group_address,eu_group_members,us_group_name,us_group_address,us_group_members";

/** A CSV row for a simulated tenant: every third split (with both groups), the rest us or eu. */
export function csvRow(i: number, tenantId: string = randomUUID()): string {
  const region = i % 3 === 0 ? "split" : i % 3 === 1 ? "us" : "eu";
  const body = demoOnboardingRequest(tenantId, {
    customerName: `customer-${i}`,
    region,
    outboundGateway: i % 2 === 0,
  });
  const group = (g: { name: string; primarySmtpAddress: string; members: string[] } | undefined) =>
    g ? [g.name, g.primarySmtpAddress, g.members.join(";")] : ["", "", ""];
  return [
    body.tenantId,
    body.customerName,
    body.region,
    String(body.outboundGateway),
    body.ndrAddress,
    ...group(body.groups?.eu),
    ...group(body.groups?.us),
  ].join(",");
}
