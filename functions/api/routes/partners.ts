/** Partner administration (ops): partners and their API keys. */

import { defineRoute, type Route } from "../router.ts";
import {
  PageQuery,
  PartnerCreateBody,
  PartnerCreatedSchema,
  PartnerIdParams,
  PartnerKeyCreatedSchema,
  PartnerKeyListSchema,
  PartnerKeyParams,
  PartnerPageSchema,
} from "../schemas.ts";

export const partnerRoutes: readonly Route[] = [
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
];
