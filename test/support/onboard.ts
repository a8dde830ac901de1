/**
 * Onboarding a fresh tenant as a partner would, the same on both forms: POST /v1/tenants, then
 * the customer's admin consents through the partner's link when the tenant waits for it.
 */
import { randomUUID } from "node:crypto";
import type { Json } from "./local-runtime.ts";

export interface OnboardOptions {
  /** The rule step fails once (the simulator refuses New-JournalRule). */
  failJournalRule?: boolean;
  /** customerName is unique across partners: one per tenant unless a test names it. */
  customerName?: string;
  /** `required`: the run stops in `awaiting_approval` with its plan. */
  approval?: "required";
  /** A tenant id the test chose (default: a new one). */
  tenantId?: string;
}

export interface OnboardParts {
  call(
    method: string,
    path: string,
    o: { key: string; body: unknown },
  ): Promise<{ status: number; body: Json }>;
  failNext(tenantId: string, cmdlet: string, fault: Json, times: number): unknown;
  demoAdmin(tenantId: string): Promise<string> | string;
  consent(url: string): Promise<{ status: number; html: string }>;
}

export async function onboardTenant(parts: OnboardParts, partnerKey: string, o: OnboardOptions = {}) {
  const tenantId = o.tenantId ?? randomUUID();
  if (o.failJournalRule) {
    const fault = { kind: "error", status: 400, message: "The journal rule quota is exhausted." };
    await parts.failNext(tenantId, "New-JournalRule", fault, 1);
  }
  const posted = await parts.call("POST", "/v1/tenants", {
    key: partnerKey,
    body: {
      tenantId,
      customerName: o.customerName ?? `contoso-${tenantId.slice(0, 8)}`,
      region: "us",
      ndrAddress: await parts.demoAdmin(tenantId),
      ...(o.approval && { approval: o.approval }),
    },
  });
  if (posted.status !== 202) throw new Error(`onboarding not accepted: ${posted.status}`);
  // A new tenant waits for the customer's consent through the partner's link.
  if (posted.body?.status === "awaiting_consent" && posted.body.consentUrl) {
    const page = await parts.consent(posted.body.consentUrl);
    if (page.status !== 200) throw new Error(`consent not accepted: ${page.status} ${page.html}`);
  }
  return tenantId;
}
