/**
 * Every operation of the REST API v1 (docs/api.md), one module per group under `routes/`.
 * Handlers are the business call and the shaping of the answer, nothing else: matching, auth,
 * parsing, validation, idempotency, errors and logging are middleware (`app.ts`). The order of
 * this table is the order of the OpenAPI document's paths.
 */

import type { Route } from "./router.ts";
import { consentRoutes } from "./routes/consent.ts";
import { metaRoutes } from "./routes/meta.ts";
import { partnerRoutes } from "./routes/partners.ts";
import { tenantActionRoutes } from "./routes/tenant-actions.ts";
import { tenantRoutes } from "./routes/tenants.ts";
import { webhookRoutes } from "./routes/webhooks.ts";

export const routes: readonly Route[] = [
  ...metaRoutes,
  ...partnerRoutes,
  ...tenantRoutes,
  ...tenantActionRoutes,
  ...consentRoutes,
  ...webhookRoutes,
];
