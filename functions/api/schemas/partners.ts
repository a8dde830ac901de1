/** Partners and their API keys: the create request, parameters and resources. */
import * as z from "zod";
import { requestSchemas, responseSchemas } from "./common.ts";
import { StoredName, Timestamp } from "./fields.ts";

export const PartnerCreateBody = z.strictObject({
  name: StoredName(200),
});
requestSchemas.add(PartnerCreateBody, { id: "PartnerCreateRequest" });

export const PartnerIdParams = z.strictObject({
  partnerId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a partner id"),
});
export const PartnerKeyParams = PartnerIdParams.extend({
  keyId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "Not a key id"),
});

export const PartnerSchema = z.strictObject({
  partnerId: z.string(),
  name: z.string(),
  createdAt: Timestamp,
});
responseSchemas.add(PartnerSchema, { id: "Partner" });

export const PartnerCreatedSchema = z.strictObject({
  partnerId: z.string(),
  name: z.string(),
  createdAt: Timestamp,
  apiKey: z.string().meta({ description: "Shown once; only its SHA-256 is stored." }),
  keyId: z.string().meta({ description: "The key's id, to revoke it (`DELETE .../keys/{keyId}`)." }),
});
responseSchemas.add(PartnerCreatedSchema, { id: "PartnerCreated" });

export const PartnerKeySchema = z.strictObject({ keyId: z.string(), createdAt: Timestamp });
responseSchemas.add(PartnerKeySchema, { id: "PartnerKey" });

export const PartnerKeyCreatedSchema = z.strictObject({
  keyId: z.string(),
  apiKey: z.string().meta({ description: "Shown once; only its SHA-256 is stored." }),
  createdAt: Timestamp,
});
responseSchemas.add(PartnerKeyCreatedSchema, { id: "PartnerKeyCreated" });

export const PartnerKeyListSchema = z.strictObject({ items: z.array(PartnerKeySchema) });
responseSchemas.add(PartnerKeyListSchema, { id: "PartnerKeyList" });

export const PartnerPageSchema = z.strictObject({
  items: z.array(PartnerSchema),
  nextCursor: z.string().optional(),
});
responseSchemas.add(PartnerPageSchema, { id: "PartnerPage" });
