/**
 * Every operation of the REST API v1 (docs/api.md). Handlers are the business call and the
 * shaping of the answer, nothing else: matching, auth, parsing, validation, idempotency,
 * errors and logging are middleware (`app.ts`).
 */

import { ERROR_CATALOGUE_PATH, errorCatalogueEntries } from "../domain/error-catalogue.ts";
import { ConflictError } from "../domain/errors.ts";
import { permissionsScript } from "../domain/permissions-script.ts";
import type { Principal } from "../domain/store.ts";
import { publicEventData, type Tenant } from "../domain/tenant.ts";
import type { WebhookDelivery, WebhookEndpoint, WebhookService } from "../domain/webhooks.ts";
import { CONSENT_CALLBACK_PATH, consentResponse } from "./consent.ts";
import { browserIdFromCookie } from "./consent-confirm.ts";
import { ForbiddenError, NotImplementedError } from "./errors.ts";
import { defineRoute, type Route } from "./router.ts";
import {
  ChangePageSchema,
  ConsentCallbackQuery,
  DeliveryIdParams,
  DeliveryListQuery,
  DriftReportSchema,
  ErrorCatalogueSchema,
  HealthSchema,
  KeyIdentitySchema,
  OnboardingRequestBody,
  OpenApiDocumentSchema,
  PageQuery,
  PartnerCreateBody,
  PartnerCreatedSchema,
  PartnerIdParams,
  PartnerKeyCreatedSchema,
  PartnerKeyListSchema,
  PartnerKeyParams,
  PartnerPageSchema,
  TenantEventPageSchema,
  TenantIdParams,
  TenantListQuery,
  TenantPageSchema,
  TenantPatchBody,
  TenantRetryBody,
  TenantSchema,
  WebhookDeliveryPageSchema,
  WebhookDeliverySchema,
  WebhookEndpointSchema,
  WebhookPutBody,
} from "./schemas.ts";

/** The tenant resource of the API (no `groups`, no internals). */
export function toTenantResource(t: Tenant) {
  return {
    tenantId: t.tenantId,
    partnerId: t.partnerId,
    customerName: t.customerName,
    region: t.region,
    outboundGateway: t.outboundGateway,
    ndrAddress: t.ndrAddress,
    status: t.status,
    steps: t.steps.map((s) => ({
      name: s.name,
      status: s.status,
      attempts: s.attempts,
      ...(s.startedAt !== undefined && { startedAt: s.startedAt }),
      ...(s.finishedAt !== undefined && { finishedAt: s.finishedAt }),
      ...(s.error !== undefined && { error: s.error }),
      ...(s.progress !== undefined && { progress: s.progress }),
      ...(s.waitingUntil !== undefined && { waitingUntil: s.waitingUntil }),
    })),
    ...(t.consentUrl !== undefined && t.consentUrl !== null && { consentUrl: t.consentUrl }),
    ...(t.missingPermissions !== undefined &&
      t.missingPermissions !== null && {
        missingPermissions: t.missingPermissions.map((m) => ({ cmdlet: m.cmdlet, role: m.role })),
      }),
    ...(t.ndrAddressKept === true && { ndrAddressKept: true }),
    ...(t.onDrift !== undefined && { onDrift: t.onDrift }),
    ...(t.approval !== undefined && { approval: t.approval }),
    ...(t.plan !== undefined && { plan: t.plan }),
    ...(t.drift !== undefined && { drift: t.drift }),
    ...(t.error !== undefined && t.error !== null && { error: t.error }),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

function tenantLocation(tenantId: string): Record<string, string> {
  return { location: `/v1/tenants/${tenantId}` };
}

function partnerOf(principal: Principal): string {
  if (!principal.partnerId) throw new Error("partner route reached without a partnerId");
  return principal.partnerId;
}

function webhooksOf(service: WebhookService | undefined): WebhookService {
  // Both runtimes wire one in; a deployment without it answers 501 rather than failing.
  if (!service) throw new NotImplementedError("Webhooks are not configured on this deployment.");
  return service;
}

function endpointBody(endpoint: WebhookEndpoint, secret?: string) {
  return {
    url: endpoint.url,
    events: endpoint.events,
    ...(secret !== undefined && { secret }),
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
    ...(endpoint.disabledAt !== undefined && { disabledAt: endpoint.disabledAt }),
    ...(endpoint.disabledReason !== undefined && { disabledReason: endpoint.disabledReason }),
  };
}

function deliveryResource(d: WebhookDelivery) {
  return {
    deliveryId: d.deliveryId,
    eventId: d.eventId,
    partnerId: d.partnerId,
    tenantId: d.tenantId,
    type: d.type,
    status: d.status,
    attempts: d.attempts,
    createdAt: d.createdAt,
    ...(d.lastAttemptAt !== undefined && { lastAttemptAt: d.lastAttemptAt }),
    ...(d.nextAttemptAt !== undefined && { nextAttemptAt: d.nextAttemptAt }),
    ...(d.lastResponseStatus !== undefined && { lastResponseStatus: d.lastResponseStatus }),
    ...(d.error !== undefined && { error: d.error }),
    ...(d.sequence !== undefined && { sequence: d.sequence }),
    ...(d.replays !== undefined && { replays: d.replays }),
    ...(d.attemptLog !== undefined && {
      attemptLog: d.attemptLog.map((a) => ({
        at: a.at,
        latencyMs: a.latencyMs,
        ...(a.responseStatus !== undefined && { responseStatus: a.responseStatus }),
        ...(a.error !== undefined && { error: a.error }),
      })),
    }),
  };
}

const PARTNER_OR_OPS = ["partner", "ops"] as const;

export const routes: readonly Route[] = [
  defineRoute({
    operationId: "getHealth",
    method: "GET",
    path: "/health",
    tag: "health",
    summary: "Liveness check",
    access: "public",
    responses: { 200: { description: "The API is up.", schema: HealthSchema } },
    handle: async () => ({ status: 200, body: { status: "ok" } }),
  }),
  defineRoute({
    operationId: "getOpenApiDocument",
    method: "GET",
    path: "/v1/openapi.json",
    tag: "meta",
    summary: "This document",
    access: "any",
    responses: {
      200: { description: "The OpenAPI 3.1 document of this API.", schema: OpenApiDocumentSchema },
    },
    handle: async ({ services }) => ({ status: 200, body: services.openapi() }),
  }),
  defineRoute({
    operationId: "getKeyIdentity",
    method: "GET",
    path: "/v1/me",
    tag: "meta",
    summary: "The role of the key in use",
    description: "`ops`, or `partner` with its `partnerId`: a client shows which kind of key it uses.",
    access: "any",
    responses: { 200: { description: "The key's role.", schema: KeyIdentitySchema } },
    handle: async ({ principal }) => ({
      status: 200,
      body: principal.role === "ops" ? { role: "ops" } : { role: "partner", partnerId: partnerOf(principal) },
    }),
  }),
  defineRoute({
    operationId: "getErrorCatalogue",
    method: "GET",
    path: ERROR_CATALOGUE_PATH,
    tag: "meta",
    summary: "Every error code, with its meaning and what to do",
    description:
      "The catalogue that problem types (`/v1/errors#<CODE>`), tenant and step `error.code`s and webhook delivery errors refer to.",
    access: "any",
    responses: { 200: { description: "The error catalogue.", schema: ErrorCatalogueSchema } },
    handle: async () => ({ status: 200, body: { items: errorCatalogueEntries() } }),
  }),
  defineRoute({
    operationId: "createPartner",
    method: "POST",
    path: "/v1/partners",
    tag: "partners",
    summary: "Create a partner and its API key",
    description: "The key is returned once; only its SHA-256 hash is stored.",
    access: ["ops"],
    body: PartnerCreateBody,
    responses: { 201: { description: "The partner, with its API key.", schema: PartnerCreatedSchema } },
    handle: async ({ body, services }) => {
      const { partner, apiKey, keyId } = await services.partners.createPartner(body.name);
      return {
        status: 201,
        body: {
          partnerId: partner.partnerId,
          name: partner.name,
          createdAt: partner.createdAt,
          apiKey,
          keyId,
        },
      };
    },
  }),
  defineRoute({
    operationId: "listPartners",
    method: "GET",
    path: "/v1/partners",
    tag: "partners",
    summary: "List partners",
    access: ["ops"],
    query: PageQuery,
    responses: { 200: { description: "A page of partners.", schema: PartnerPageSchema } },
    handle: async ({ query, services }) => {
      const page = await services.partners.listPartners(query);
      return {
        status: 200,
        body: {
          items: page.items.map((p) => ({ partnerId: p.partnerId, name: p.name, createdAt: p.createdAt })),
          ...(page.nextCursor && { nextCursor: page.nextCursor }),
        },
      };
    },
  }),
  defineRoute({
    operationId: "createPartnerKey",
    method: "POST",
    path: "/v1/partners/{partnerId}/keys",
    tag: "partners",
    summary: "Issue another API key for a partner (rotation)",
    description:
      "The key is returned once; only its SHA-256 hash is stored. The partner's other keys keep working until revoked. At most 10 keys at once (409).",
    access: ["ops"],
    params: PartnerIdParams,
    problems: [404, 409],
    responses: { 201: { description: "The new key.", schema: PartnerKeyCreatedSchema } },
    handle: async ({ params, services }) => ({
      status: 201,
      body: await services.partners.createKey(params.partnerId),
    }),
  }),
  defineRoute({
    operationId: "listPartnerKeys",
    method: "GET",
    path: "/v1/partners/{partnerId}/keys",
    tag: "partners",
    summary: "A partner's active API keys (ids and dates, never the key)",
    access: ["ops"],
    params: PartnerIdParams,
    problems: [404],
    responses: { 200: { description: "The active keys, oldest first.", schema: PartnerKeyListSchema } },
    handle: async ({ params, services }) => ({
      status: 200,
      body: { items: await services.partners.listKeys(params.partnerId) },
    }),
  }),
  defineRoute({
    operationId: "revokePartnerKey",
    method: "DELETE",
    path: "/v1/partners/{partnerId}/keys/{keyId}",
    tag: "partners",
    summary: "Revoke one of a partner's API keys",
    description: "At once locally; in AWS within 60 seconds (the authorizer's cache), on every route.",
    access: ["ops"],
    params: PartnerKeyParams,
    problems: [404],
    responses: { 204: { description: "Revoked." } },
    handle: async ({ params, services }) => {
      await services.partners.revokeKey(params.partnerId, params.keyId);
      return { status: 204 };
    },
  }),
  defineRoute({
    operationId: "onboardTenant",
    method: "POST",
    path: "/v1/tenants",
    tag: "tenants",
    summary: "Register a tenant and start onboarding",
    description:
      "Answers 202 with the tenant (status `queued`); progress is reported by webhook and on the tenant resource. A tenant not bound to you yet answers `awaiting_consent` with its `consentUrl`; its `customerName` is reserved only when the customer's admin consents (a slug of another partner's bound tenant then fails it with `CUSTOMER_NAME_TAKEN`).",
    access: ["partner"],
    body: OnboardingRequestBody,
    idempotent: true,
    problems: [409, 422, 503],
    responses: {
      202: {
        description: "Accepted: onboarding started.",
        schema: TenantSchema,
        headers: { Location: "The tenant's URL." },
      },
    },
    handle: async ({ principal, body, services, log }) => {
      const { groups, ...rest } = body;
      const tenant = await services.onboarding.register(partnerOf(principal), {
        ...rest,
        ...(groups && { groups }),
      });
      log.appendPersistentKeys({ tenantId: tenant.tenantId });
      return { status: 202, body: toTenantResource(tenant), headers: tenantLocation(tenant.tenantId) };
    },
  }),
  defineRoute({
    operationId: "listTenants",
    method: "GET",
    path: "/v1/tenants",
    tag: "tenants",
    summary: "List tenants, newest first",
    access: PARTNER_OR_OPS,
    query: TenantListQuery,
    responses: { 200: { description: "A page of tenants.", schema: TenantPageSchema } },
    handle: async ({ principal, query, services }) => {
      const page = await services.onboarding.listTenants(principal, query);
      return {
        status: 200,
        body: {
          items: page.items.map(toTenantResource),
          ...(page.nextCursor && { nextCursor: page.nextCursor }),
        },
      };
    },
  }),
  defineRoute({
    operationId: "getTenant",
    method: "GET",
    path: "/v1/tenants/{tenantId}",
    tag: "tenants",
    summary: "Read a tenant",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    problems: [404],
    responses: { 200: { description: "The tenant.", schema: TenantSchema } },
    handle: async ({ principal, params, services }) => ({
      status: 200,
      body: toTenantResource(await services.onboarding.getTenant(principal, params.tenantId)),
    }),
  }),
  defineRoute({
    operationId: "listTenantEvents",
    method: "GET",
    path: "/v1/tenants/{tenantId}/events",
    tag: "tenants",
    summary: "The tenant's event history, oldest first",
    description: "The same events that webhooks deliver.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    query: PageQuery,
    problems: [404],
    responses: { 200: { description: "A page of events.", schema: TenantEventPageSchema } },
    handle: async ({ principal, params, query, services }) => {
      const page = await services.onboarding.listEvents(principal, params.tenantId, query);
      return {
        status: 200,
        body: {
          items: page.items.map((e) => ({
            id: e.id,
            type: e.type,
            timestamp: e.timestamp,
            data: publicEventData(e.data),
          })),
          ...(page.nextCursor && { nextCursor: page.nextCursor }),
        },
      };
    },
  }),
  defineRoute({
    operationId: "listTenantChanges",
    method: "GET",
    path: "/v1/tenants/{tenantId}/changes",
    tag: "tenants",
    summary: "The tenant's audit trail, newest first",
    description:
      "Every write this service made in the customer's tenant (onboarding, remediation, an approved plan, offboarding): time, run, step, cmdlet, parameters (no secrets; member lists summarised), outcome and who asked for it (`partner`, `ops` or `drift-remediation`). Kept like events (EVENT_RETENTION_DAYS, default 90 days).",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    query: PageQuery,
    problems: [404],
    responses: { 200: { description: "A page of changes.", schema: ChangePageSchema } },
    handle: async ({ principal, params, query, services }) => {
      const page = await services.drift.listChanges(principal, params.tenantId, query);
      return {
        status: 200,
        body: {
          items: page.items.map((c) => ({
            changeId: c.changeId,
            at: c.at,
            run: c.run,
            step: c.step,
            cmdlet: c.cmdlet,
            parameters: c.parameters,
            outcome: c.outcome,
            ...(c.errorCode !== undefined && { errorCode: c.errorCode }),
            requestedBy: c.requestedBy,
            actor: c.actor ?? "service",
          })),
          ...(page.nextCursor && { nextCursor: page.nextCursor }),
        },
      };
    },
  }),
  defineRoute({
    operationId: "getTenantPermissionsScript",
    method: "GET",
    path: "/v1/tenants/{tenantId}/permissions-script",
    tag: "tenants",
    summary: "PowerShell that grants the app least privilege in the tenant",
    description:
      "The script a customer's admin runs once instead of giving the app the Exchange Administrator role: it registers the app's service principal in Exchange Online and makes it a member of a role group holding exactly the management roles this tenant's onboarding and offboarding need (they depend on `region` and `outboundGateway`). Safe to run twice. 501 when the deployment has no Microsoft 365 app configured.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    problems: [404, 501],
    responses: { 200: { description: "The PowerShell script.", contentType: "text/plain" } },
    handle: async ({ principal, params, services }) => {
      const tenant = await services.onboarding.getTenant(principal, params.tenantId);
      const appId = await services.m365AppId();
      if (!appId) throw new NotImplementedError("No Microsoft 365 app is configured on this deployment.");
      return {
        status: 200,
        text: permissionsScript({ tenantId: tenant.tenantId, appId, request: tenant }),
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "content-disposition": `attachment; filename="journal-onboarding-permissions-${tenant.tenantId}.ps1"`,
        },
      };
    },
  }),
  defineRoute({
    operationId: "getTenantDrift",
    method: "GET",
    path: "/v1/tenants/{tenantId}/drift",
    tag: "tenants",
    summary: "The latest drift check",
    description:
      "What the latest drift check found: `inSync`, and each difference between the live tenant and what onboarding set up (`{step, object, field, expected, actual}`). `checkedAt` and `inSync` are null until the first check.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    problems: [404],
    responses: { 200: { description: "The latest drift check.", schema: DriftReportSchema } },
    handle: async ({ principal, params, services }) => {
      const drift = await services.drift.getDrift(principal, params.tenantId);
      return { status: 200, body: drift ?? { checkedAt: null, inSync: null, differences: [] } };
    },
  }),
  defineRoute({
    operationId: "checkTenantDrift",
    method: "POST",
    path: "/v1/tenants/{tenantId}/drift-checks",
    tag: "tenants",
    summary: "Check the tenant for drift now",
    description:
      "Starts a read-only drift check of a `succeeded` tenant (anything else is a 409). The result appears on the tenant (`drift`) and at `GET .../drift`; `tenant.drift.detected` or `tenant.drift.resolved` is sent only when the state changed.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    problems: [404, 409, 503],
    responses: { 202: { description: "Accepted: the check started.", schema: TenantSchema } },
    handle: async ({ principal, params, services }) => {
      const tenant = await services.drift.checkNow(principal, params.tenantId);
      return { status: 202, body: toTenantResource(tenant), headers: tenantLocation(tenant.tenantId) };
    },
  }),
  defineRoute({
    operationId: "approveTenantPlan",
    method: "POST",
    path: "/v1/tenants/{tenantId}/approve",
    tag: "tenants",
    summary: "Approve the plan and apply it",
    description:
      "From `awaiting_approval` (anything else is a 409): starts a run that applies exactly the tenant's `plan`. If the live tenant changed so that the plan no longer holds, nothing is written and the tenant goes back to `awaiting_approval` with a new plan.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    problems: [404, 409, 503],
    responses: {
      202: { description: "Accepted: the approved plan is being applied.", schema: TenantSchema },
    },
    handle: async ({ principal, params, services }) => {
      const tenant = await services.drift.approve(principal, params.tenantId);
      return { status: 202, body: toTenantResource(tenant), headers: tenantLocation(tenant.tenantId) };
    },
  }),
  defineRoute({
    operationId: "retryTenant",
    method: "POST",
    path: "/v1/tenants/{tenantId}/retry",
    tag: "tenants",
    summary: "Retry onboarding",
    description:
      "From `failed`, `awaiting_consent` or `awaiting_permissions`, or from a stranded `queued`/`running` tenant whose workflow is no longer running; anything else is a 409.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    body: TenantRetryBody,
    optionalBody: true,
    problems: [403, 404, 409, 503],
    responses: { 202: { description: "Accepted: onboarding restarted.", schema: TenantSchema } },
    handle: async ({ principal, params, body, services }) => {
      if (body?.bindTenant) {
        // Ops bind by hand, recorded in the tenant's history (`tenant.bound_by_ops`).
        if (principal.role !== "ops") throw new ForbiddenError("Only ops keys may bind a tenant by hand.");
        await services.onboarding.bind(body.partnerId, params.tenantId, "ops").then((outcome) => {
          if (outcome.kind !== "bound" && outcome.kind !== "already-bound") {
            throw new ConflictError(
              `Partner ${body.partnerId} has no open claim on tenant ${params.tenantId} to bind (or the claim failed: read its error).`,
            );
          }
        });
        const tenant = await services.onboarding.getTenant(principal, params.tenantId);
        return { status: 202, body: toTenantResource(tenant), headers: tenantLocation(tenant.tenantId) };
      }
      const tenant = await services.onboarding.retry(principal, params.tenantId);
      return { status: 202, body: toTenantResource(tenant), headers: tenantLocation(tenant.tenantId) };
    },
  }),
  defineRoute({
    operationId: "correctTenant",
    method: "PATCH",
    path: "/v1/tenants/{tenantId}",
    tag: "tenants",
    summary: "Correct a tenant's request, then retry it",
    description:
      "Corrects `ndrAddress`, `groups` (both, split tenants only), `outboundGateway` or `customerName` of a tenant in `failed`, `awaiting_consent`, `awaiting_permissions` or `awaiting_approval` (anything else is a 409). Fields are validated as on POST; at least one is required. The steps that use a changed field go back to `pending`; `POST .../retry` then applies them. Recorded in the tenant's history as `tenant.updated` (not a webhook).",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    body: TenantPatchBody,
    problems: [404, 409],
    responses: { 200: { description: "The corrected tenant.", schema: TenantSchema } },
    handle: async ({ principal, params, body, services }) => {
      const { groups, ...rest } = body;
      const correction = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      const tenant = await services.onboarding.correct(principal, params.tenantId, {
        ...correction,
        ...(groups && { groups }),
      });
      return { status: 200, body: toTenantResource(tenant) };
    },
  }),
  defineRoute({
    operationId: "offboardTenant",
    method: "DELETE",
    path: "/v1/tenants/{tenantId}",
    tag: "tenants",
    summary: "Offboard a tenant",
    description:
      "Removes what this service created in the tenant and restores the previous NDR address. Allowed from `succeeded`, `failed`, `awaiting_consent`, `awaiting_permissions` and `offboarding_failed` (or a stranded tenant whose workflow is no longer running); anything else is a 409.",
    access: PARTNER_OR_OPS,
    params: TenantIdParams,
    problems: [404, 409, 503],
    responses: { 202: { description: "Accepted: offboarding started.", schema: TenantSchema } },
    handle: async ({ principal, params, services }) => {
      const tenant = await services.onboarding.offboard(principal, params.tenantId);
      return { status: 202, body: toTenantResource(tenant), headers: tenantLocation(tenant.tenantId) };
    },
  }),
  defineRoute({
    operationId: "consentCallback",
    method: "GET",
    path: CONSENT_CALLBACK_PATH,
    tag: "tenants",
    summary: "Where Entra's admin consent sends the customer's admin back",
    description:
      "Opened by the customer admin's browser, not by partners, three times. After admin consent (`?admin_consent=True&tenant=&state=`, which Entra does not authenticate) it verifies the signed `state` (partner and tenant) and that `tenant` is the one named in it, binds nothing, and shows a page naming the partner and the tenant with a Continue button and the admin's least-privilege choice (`setup`, the default, or `script`); the page sets a cookie (HttpOnly, SameSite=Lax, Secure over https, limited to this path) that identifies the browser. Continue (`?state=&continue=&least_privilege=`, the page's token, valid only with that browser's cookie) redirects (302) to Entra's sign-in of that tenant with a new signed state carrying the choice, valid for 10 minutes, usable once and only by that browser, and a PKCE challenge; without the matching cookie the page is shown again (`least_privilege` is read on Continue only). After the sign-in (`?code=&state=`, with the cookie) it uses up the state, redeems the code with the app's own credential and binds the tenant to the partner only when the ID token is of that tenant, for this app, with the sign-in's nonce, and of a Global Administrator or Privileged Role Administrator; then onboarding starts. With the choice `setup` the sign-in also asks for the delegated `Exchange.Manage`, and the service uses it once, in that request, to give the app its least-privilege Exchange role group as that admin (audit trail entries with `actor: customer-admin`; the token is never stored); when that is not possible the tenant later waits in `awaiting_permissions` with the permissions script. `error=` or any failed check binds nothing. Every answer but the redirect is a small HTML page saying what happened.",
    access: "public",
    query: ConsentCallbackQuery,
    responses: {
      200: {
        description:
          "The page naming the partner and the tenant, with Continue (sets the browser's cookie); or, after the sign-in, consent received: the tenant is bound.",
        contentType: "text/html",
      },
      302: {
        description: "Continue: on to the admin's sign-in (`Location`: Entra's authorize endpoint).",
        headers: { Location: "Entra's authorize URL of the tenant" },
      },
      400: {
        description: "Nothing was bound (declined, invalid or expired link).",
        contentType: "text/html",
      },
      403: {
        description:
          "Nothing was bound: the sign-in did not confirm the consent (another tenant, not an admin, a used code or state, another browser).",
        contentType: "text/html",
      },
      503: {
        description: "Nothing was bound: Entra could not be reached to redeem the sign-in.",
        contentType: "text/html",
      },
    },
    handle: async ({ query, headers, services }) => {
      const browser = browserIdFromCookie(headers["cookie"]);
      const outcome = await services.onboarding.consentCallback({
        ...(browser !== undefined && { browser }),
        ...(query.continue !== undefined && { continueToken: query.continue }),
        ...(query.state !== undefined && { state: query.state }),
        ...(query.tenant !== undefined && { tenant: query.tenant }),
        ...(query.admin_consent !== undefined && { adminConsent: query.admin_consent }),
        ...(query.code !== undefined && { code: query.code }),
        ...(query.error !== undefined && { error: query.error }),
        ...(query.error_description !== undefined && { errorDescription: query.error_description }),
        ...(query.least_privilege !== undefined && { leastPrivilege: query.least_privilege }),
      });
      return consentResponse(outcome);
    },
  }),
  defineRoute({
    operationId: "putWebhook",
    method: "PUT",
    path: "/v1/webhook",
    tag: "webhooks",
    summary: "Create or replace the partner's webhook endpoint",
    description:
      "The `whsec_` secret is returned when the endpoint is created or `rotateSecret` is true, never otherwise. Deliveries follow Standard Webhooks.",
    access: ["partner"],
    body: WebhookPutBody,
    problems: [501],
    responses: {
      200: {
        description: "The endpoint; `secret` when it was created or rotated.",
        schema: WebhookEndpointSchema,
      },
    },
    handle: async ({ principal, body, services }) => {
      const { endpoint, secret } = await webhooksOf(services.webhooks).putEndpoint(
        partnerOf(principal),
        {
          url: body.url,
          ...(body.events && { events: body.events }),
          ...(body.rotateSecret !== undefined && { rotateSecret: body.rotateSecret }),
        },
        new Date().toISOString(),
      );
      return { status: 200, body: endpointBody(endpoint, secret) };
    },
  }),
  defineRoute({
    operationId: "getWebhook",
    method: "GET",
    path: "/v1/webhook",
    tag: "webhooks",
    summary: "Read the partner's webhook endpoint",
    access: ["partner"],
    problems: [404, 501],
    responses: { 200: { description: "The endpoint (never the secret).", schema: WebhookEndpointSchema } },
    handle: async ({ principal, services }) => ({
      status: 200,
      body: endpointBody(await webhooksOf(services.webhooks).getEndpoint(partnerOf(principal))),
    }),
  }),
  defineRoute({
    operationId: "deleteWebhook",
    method: "DELETE",
    path: "/v1/webhook",
    tag: "webhooks",
    summary: "Remove the partner's webhook endpoint",
    access: ["partner"],
    problems: [404, 501],
    responses: { 204: { description: "Removed." } },
    handle: async ({ principal, services }) => {
      await webhooksOf(services.webhooks).deleteEndpoint(partnerOf(principal));
      return { status: 204 };
    },
  }),
  defineRoute({
    operationId: "listWebhookDeliveries",
    method: "GET",
    path: "/v1/webhook/deliveries",
    tag: "webhooks",
    summary: "Delivery attempts, newest first",
    access: PARTNER_OR_OPS,
    query: DeliveryListQuery,
    problems: [501],
    responses: { 200: { description: "A page of deliveries.", schema: WebhookDeliveryPageSchema } },
    handle: async ({ principal, query, services }) => {
      const page = await webhooksOf(services.webhooks).listDeliveries(principal, query);
      return {
        status: 200,
        body: {
          items: page.items.map(deliveryResource),
          ...(page.nextCursor && { nextCursor: page.nextCursor }),
        },
      };
    },
  }),
  defineRoute({
    operationId: "replayWebhookDelivery",
    method: "POST",
    path: "/v1/webhook/deliveries/{deliveryId}/replay",
    tag: "webhooks",
    summary: "Send a delivery's event again",
    access: PARTNER_OR_OPS,
    params: DeliveryIdParams,
    problems: [404, 501],
    responses: {
      202: { description: "Accepted: the event is queued again.", schema: WebhookDeliverySchema },
    },
    handle: async ({ principal, params, services }) => ({
      status: 202,
      body: deliveryResource(
        await webhooksOf(services.webhooks).replayDelivery(
          principal,
          params.deliveryId,
          new Date().toISOString(),
        ),
      ),
    }),
  }),
];
