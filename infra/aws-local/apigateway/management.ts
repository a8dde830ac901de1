/**
 * The API Gateway management calls the API function makes (REST JSON, service `apigateway`):
 * CreateApiKey, GetApiKeys, GetApiKey, DeleteApiKey, GetUsagePlans, CreateUsagePlanKey,
 * GetUsagePlanKeys, DeleteUsagePlanKey. Lists are `{"item": [...], "position"}` pages, errors
 * `{"message"}` with `x-amzn-ErrorType`, as API Gateway answers them.
 */
import type { AwsRequest, AwsResponse, AwsServiceHandler } from "../contracts.ts";
import type { ApiKeyStore, StoredApiKey } from "./keys.ts";
import type { UsagePlanModel } from "./model.ts";

const json = (status: number, body: unknown): AwsResponse => ({
  status,
  headers: { "content-type": "application/json" },
  body: body === undefined ? "" : JSON.stringify(body),
});

const fail = (status: number, type: string, message: string): AwsResponse => ({
  status,
  headers: { "content-type": "application/json", "x-amzn-errortype": type },
  body: JSON.stringify({ message }),
});

export function createManagement(store: ApiKeyStore): AwsServiceHandler {
  return async (request: AwsRequest) => {
    const url = new URL(request.url, "http://apigateway");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const body =
      request.body.length > 0 ? (JSON.parse(request.body.toString("utf8")) as Record<string, unknown>) : {};
    const route = `${request.method} /${parts.map((p, i) => (i % 2 === 1 ? "{id}" : p)).join("/")}`;
    switch (route) {
      case "POST /apikeys":
        return createApiKey(store, body);
      case "GET /apikeys": {
        const name = url.searchParams.get("name") ?? "";
        const withValues = url.searchParams.get("includeValues") === "true";
        const keys = store.keys().filter((k) => k.name.startsWith(name));
        return page(url, keys, (k) => apiKeyView(k, withValues));
      }
      case "GET /apikeys/{id}": {
        const key = store.keyById(parts[1] as string);
        if (!key) return fail(404, "NotFoundException", "Invalid API Key identifier specified");
        return json(200, apiKeyView(key, url.searchParams.get("includeValue") === "true"));
      }
      case "DELETE /apikeys/{id}": {
        if (!store.keyById(parts[1] as string)) {
          return fail(404, "NotFoundException", "Invalid API Key identifier specified");
        }
        store.deleteKey(parts[1] as string);
        return json(202, undefined);
      }
      case "GET /usageplans": {
        const keyId = url.searchParams.get("keyId");
        const plans = keyId ? store.plansOfKey(keyId) : store.plans;
        return page(url, plans, planView);
      }
      case "POST /usageplans/{id}/keys":
        return createPlanKey(store, parts[1] as string, body);
      case "GET /usageplans/{id}/keys": {
        const plan = store.plan(parts[1] as string);
        if (!plan) return fail(404, "NotFoundException", "Invalid Usage Plan ID specified");
        const keys = store.planKeyIds(plan.id).flatMap((id) => store.keyById(id) ?? []);
        return page(url, keys, (k) => ({ id: k.id, type: "API_KEY", name: k.name, value: k.value }));
      }
      case "DELETE /usageplans/{id}/keys/{id}": {
        const [, planId = "", , keyId = ""] = parts;
        if (!store.plan(planId) || !store.planKeyIds(planId).includes(keyId)) {
          return fail(404, "NotFoundException", "Invalid Usage Plan Key identifier specified");
        }
        store.removePlanKey(planId, keyId);
        return json(202, undefined);
      }
      default:
        return fail(404, "NotFoundException", `${request.method} ${url.pathname} is not served by this form`);
    }
  };
}

function createApiKey(store: ApiKeyStore, body: Record<string, unknown>): AwsResponse {
  const value = typeof body["value"] === "string" ? body["value"] : undefined;
  if (value !== undefined && (value.length < 20 || value.length > 128)) {
    return fail(400, "BadRequestException", "API Key value should be at least 20 characters");
  }
  if (value !== undefined && store.keyByValue(value)) {
    return fail(409, "ConflictException", "API Key already exists");
  }
  const key = store.createKey({
    name: typeof body["name"] === "string" ? body["name"] : "",
    enabled: body["enabled"] === true,
    ...(value !== undefined && { value }),
    ...(typeof body["description"] === "string" && { description: body["description"] }),
  });
  return json(201, apiKeyView(key, true));
}

function createPlanKey(store: ApiKeyStore, planId: string, body: Record<string, unknown>): AwsResponse {
  const plan = store.plan(planId);
  if (!plan) return fail(404, "NotFoundException", "Invalid Usage Plan ID specified");
  if (body["keyType"] !== "API_KEY") return fail(400, "BadRequestException", "Invalid key type specified");
  const key = store.keyById(String(body["keyId"]));
  if (!key) return fail(404, "NotFoundException", "Invalid API Key identifier specified");
  // A key may be in one plan per API stage (the same plan twice included).
  const stages = new Set(plan.apiStages.map((s) => `${s.apiId}/${s.stage}`));
  const clash = store
    .plansOfKey(key.id)
    .find((p) => p.apiStages.some((s) => stages.has(`${s.apiId}/${s.stage}`)));
  if (clash) {
    return fail(
      409,
      "ConflictException",
      `Usage Plan ${plan.id} cannot be added because API Key ${key.id} cannot reference multiple Usage Plans with the same API Stage`,
    );
  }
  store.addPlanKey(plan.id, key.id);
  return json(201, { id: key.id, type: "API_KEY", name: key.name, value: key.value });
}

function page<T>(url: URL, items: readonly T[], view: (item: T) => unknown): AwsResponse {
  const limit = Math.min(500, Number(url.searchParams.get("limit") ?? 25) || 25);
  const start = Number(url.searchParams.get("position") ?? 0) || 0;
  const slice = items.slice(start, start + limit);
  const next = start + limit < items.length ? String(start + limit) : undefined;
  return json(200, { item: slice.map(view), ...(next && { position: next }) });
}

function apiKeyView(key: StoredApiKey, withValue: boolean): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    ...(withValue && { value: key.value }),
    enabled: key.enabled,
    createdDate: key.createdDate,
    lastUpdatedDate: key.createdDate,
    stageKeys: [],
    ...(key.description !== undefined && { description: key.description }),
  };
}

function planView(plan: UsagePlanModel): Record<string, unknown> {
  return {
    id: plan.id,
    name: plan.name,
    ...(plan.description !== undefined && { description: plan.description }),
    apiStages: plan.apiStages.map((s) => ({ apiId: s.apiId, stage: s.stage, throttle: s.throttle })),
    ...(plan.throttle && { throttle: plan.throttle }),
  };
}
