/**
 * One-off migration for a deployed table (AWS): reserves the `customerName` of every bound
 * tenant, as the local runtime does once at start. Run it once after deploying this version,
 * with credentials that may scan and write the table:
 *
 *   TABLE_NAME=<the stack's TenantTable> AWS_REGION=<region> node infra/tools/reserve-customer-names.ts
 *
 * Idempotent. Prints how many tenants hold their slug and each tenant whose slug an older bound
 * tenant holds (it keeps running; its slug is not reserved).
 */
import { createDocumentClient } from "../../functions/adapters/dynamodb/client.ts";
import { reserveBoundCustomerNames } from "../../functions/adapters/dynamodb/customer-names.ts";

const table = process.env["TABLE_NAME"];
if (!table) {
  console.error("Set TABLE_NAME to the stack's tenant table.");
  process.exit(2);
}
const endpoint = process.env["DYNAMODB_ENDPOINT"];
const client = createDocumentClient(endpoint ? { endpoint } : {});
const { reserved, conflicts } = await reserveBoundCustomerNames({ client, table }, new Date().toISOString());
console.log(`${reserved} bound tenants hold their customerName.`);
for (const c of conflicts)
  console.log(`not reserved (an older tenant holds it): ${c.tenantId} ${c.customerName}`);
