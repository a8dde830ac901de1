/** A registered tenant (region us) whose onboarding started: its one stored event, for webhook tests. */
import { randomUUID } from "node:crypto";
import type { DynamoTenantStore } from "../../functions/adapters/dynamodb/tenant-store.ts";
import type { TenantEvent } from "../../functions/domain/tenant.ts";

/** A tenant (region us) registered for `partnerId`, `queued`: its id. */
export async function registeredTenant(store: DynamoTenantStore, partnerId: string): Promise<string> {
  const tenantId = randomUUID();
  await store.registerTenant(
    partnerId,
    {
      tenantId,
      customerName: "contoso",
      region: "us",
      outboundGateway: false,
      ndrAddress: "admin@contoso.example",
    },
    new Date().toISOString(),
  );
  return tenantId;
}

export async function startedTenant(
  store: DynamoTenantStore,
  partnerId: string,
): Promise<{ tenantId: string; event: TenantEvent }> {
  const tenantId = await registeredTenant(store, partnerId);
  const { event } = await store.transition(
    tenantId,
    { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
    new Date().toISOString(),
  );
  return { tenantId, event: event as TenantEvent };
}
