/** The tenant routes that act on an existing tenant: drift, approval, retry, correction, offboarding. */

import { ConflictError } from "../../domain/errors.ts";
import { ForbiddenError } from "../errors.ts";
import { defineRoute, type Route } from "../router.ts";
import {
  DriftReportSchema,
  TenantIdParams,
  TenantPatchBody,
  TenantRetryBody,
  TenantSchema,
} from "../schemas.ts";
import { PARTNER_OR_OPS, tenantLocation, toTenantResource } from "./resources.ts";

export const tenantActionRoutes: readonly Route[] = [
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
];
