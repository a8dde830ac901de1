/** The tenant routes that register a tenant or read it: the tenant, its events, its audit trail, its permissions script. */

import { permissionsScript } from "../../domain/permissions-script.ts";
import { publicEventData } from "../../domain/tenant.ts";
import { NotImplementedError } from "../errors.ts";
import { defineRoute, type Route } from "../router.ts";
import {
  ChangePageSchema,
  OnboardingRequestBody,
  PageQuery,
  TenantEventPageSchema,
  TenantIdParams,
  TenantListQuery,
  TenantPageSchema,
  TenantSchema,
} from "../schemas.ts";
import { PARTNER_OR_OPS, partnerOf, tenantLocation, toTenantResource } from "./resources.ts";

export const tenantRoutes: readonly Route[] = [
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
];
