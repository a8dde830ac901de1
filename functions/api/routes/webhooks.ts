/** The partner's webhook endpoint and its deliveries. */

import type { WebhookDelivery, WebhookEndpoint, WebhookService } from "../../domain/webhooks.ts";
import { NotImplementedError } from "../errors.ts";
import { defineRoute, type Route } from "../router.ts";
import {
  DeliveryIdParams,
  DeliveryListQuery,
  WebhookDeliveryPageSchema,
  WebhookDeliverySchema,
  WebhookEndpointSchema,
  WebhookPutBody,
} from "../schemas.ts";
import { PARTNER_OR_OPS, partnerOf } from "./resources.ts";

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

export const webhookRoutes: readonly Route[] = [
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
