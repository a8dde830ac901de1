/**
 * API keys -> principals. The same `authorize` runs in the AWS Lambda authorizer
 * (`authorizer.ts`) and in process in front of the API locally (`app.ts`), so both resolve a
 * key identically.
 *
 * Keys are `Authorization: Bearer <key>`. The ops key (`jops_...`; any value works) comes from
 * configuration and is compared by hash in constant time; partner keys (`jok_...`) are looked up
 * by their SHA-256 on every call (a consistent read): a revoked key fails at once. Nothing here
 * caches a partner key; the ops key from Secrets Manager is re-read every `OPS_KEY_TTL_MS`.
 */

import { API_KEY_PATTERN, hashApiKey, sameKeyHash } from "../domain/api-keys.ts";
import type { ApiKeyPrincipal, Principal, TenantStore } from "../domain/store.ts";
import { usageKeyValue } from "./usage-key.ts";

/** Header bags as API Gateway gives them (any case, possibly null). */
export type HeaderBag = Record<string, string | undefined> | null | undefined;

/**
 * Resolves the caller of a request from its headers; undefined when it has no valid key.
 * `usageKey` is true for a partner whose own API Gateway usage plan key exists.
 */
export type Authorize = (headers: HeaderBag, clientAddress?: string) => Promise<ApiKeyPrincipal | undefined>;

/** The current ops key hash: a constant, or a cached read of the secret (see `opsKeyHashSource`). */
export type OpsKeyHash = string | (() => Promise<string>);

export interface AuthorizerOptions {
  store: Pick<TenantStore, "findApiKey">;
  /** SHA-256 (hex) of the ops key, or a function giving the current one. */
  opsKeyHash: OpsKeyHash;
}

/** How long a warm function keeps the ops key read from Secrets Manager: a rotated key works everywhere within this. */
export const OPS_KEY_TTL_MS = 60_000;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const BEARER = /^Bearer[ ]+([\x21-\x7e]{1,512})[ ]*$/i;

export function headerValue(headers: HeaderBag, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The key of an `Authorization: Bearer <key>` header, if well-formed. */
export function bearerKey(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
}

/**
 * Builds the `authorize(headers)` function shared by the Lambda authorizer and the local runtime.
 *
 * @example
 * ```ts
 * const authorize = createAuthorizer({ store, opsKeyHash: hashApiKey(process.env.OPS_API_KEY!) });
 * const principal = await authorize({ authorization: "Bearer jok_..." }); // { role: "partner", partnerId }
 * ```
 */
export function createAuthorizer(options: AuthorizerOptions): Authorize {
  const given = options.opsKeyHash;
  if (typeof given === "string" && !SHA256_HEX.test(given))
    throw new Error("opsKeyHash must be a hex SHA-256");
  const opsKeyHash = typeof given === "string" ? async () => given : given;
  return async (headers) => {
    const key = bearerKey(headerValue(headers, "authorization"));
    if (key === undefined) return undefined;
    const hash = hashApiKey(key);
    if (sameKeyHash(hash, await opsKeyHash())) return { role: "ops" };
    // Only our own key format reaches the table: garbage costs no read.
    if (!API_KEY_PATTERN.test(key)) return undefined;
    return validPrincipal(await options.store.findApiKey(hash));
  };
}

function validPrincipal(p: ApiKeyPrincipal | undefined): ApiKeyPrincipal | undefined {
  if (!p) return undefined;
  if (p.role === "ops") return { role: "ops" };
  if (p.role === "partner" && typeof p.partnerId === "string" && p.partnerId.length > 0) {
    return { role: "partner", partnerId: p.partnerId, ...(p.usageKey === true && { usageKey: true }) };
  }
  return undefined;
}

/**
 * The API Gateway API key value (`usageIdentifierKey`) whose usage plan limits this caller:
 * the partner's own (named `<prefix><partnerId>`), a shared one for partners whose own key does
 * not exist (created before per-partner limits, or its creation failed; any new key of theirs
 * creates it), or ops'. The value is derived from the name (usage-key.ts).
 */
export function usageIdentifier(principal: ApiKeyPrincipal, prefix: string): string {
  if (principal.role === "ops") return usageKeyValue(`${prefix}ops`);
  return usageKeyValue(principal.usageKey ? `${prefix}${principal.partnerId}` : `${prefix}shared`);
}

/** What the Lambda authorizer puts in `requestContext.authorizer` (string values only). */
export function toAuthorizerContext(principal: Principal): Record<string, string> {
  return principal.partnerId === undefined
    ? { role: principal.role }
    : { role: principal.role, partnerId: principal.partnerId };
}

/** Reads the principal back from `requestContext.authorizer`; undefined when absent or malformed. */
export function fromAuthorizerContext(
  context: Record<string, unknown> | null | undefined,
): Principal | undefined {
  if (!context || typeof context.role !== "string") return undefined;
  return validPrincipal({
    role: context.role as Principal["role"],
    ...(typeof context.partnerId === "string" && { partnerId: context.partnerId }),
  });
}

/**
 * The ops key hash as a function: a constant for `OPS_API_KEY_HASH` / `OPS_API_KEY`, and for
 * `OPS_API_KEY_SECRET_ARN` the secret re-read when the last read is older than `ttlMs` (a
 * rotated ops key is in force everywhere within that). If a re-read fails, the last value is
 * kept and the read is tried again after another `ttlMs`. The first read happens here (fail fast).
 */
export async function opsKeyHashSource(
  env: Record<string, string | undefined>,
  readSecret?: (arn: string) => Promise<string>,
  options: { ttlMs?: number; now?: () => number } = {},
): Promise<() => Promise<string>> {
  const ttlMs = options.ttlMs ?? OPS_KEY_TTL_MS;
  const now = options.now ?? Date.now;
  let current = await resolveOpsKeyHash(env, readSecret);
  if (env.OPS_API_KEY_HASH?.trim() || !env.OPS_API_KEY_SECRET_ARN) return async () => current;
  let readAt = now();
  let pending: Promise<string> | undefined;
  return async () => {
    if (now() - readAt < ttlMs) return current;
    pending ??= resolveOpsKeyHash(env, readSecret)
      .then((hash) => {
        current = hash;
        return hash;
      })
      .catch(() => current)
      .finally(() => {
        readAt = now();
        pending = undefined;
      });
    return pending;
  };
}

/**
 * The ops key hash from configuration: `OPS_API_KEY_HASH` (hex SHA-256), else the key itself from
 * `OPS_API_KEY_SECRET_ARN` (via `readSecret`) or `OPS_API_KEY`. Fails closed when none is set.
 */
export async function resolveOpsKeyHash(
  env: Record<string, string | undefined>,
  readSecret?: (arn: string) => Promise<string>,
): Promise<string> {
  const hash = env.OPS_API_KEY_HASH?.trim().toLowerCase();
  if (hash) {
    if (!SHA256_HEX.test(hash)) throw new Error("OPS_API_KEY_HASH must be a hex SHA-256");
    return hash;
  }
  const arn = env.OPS_API_KEY_SECRET_ARN;
  if (arn) {
    if (!readSecret) throw new Error("OPS_API_KEY_SECRET_ARN is set but no secret reader was given");
    const secret = (await readSecret(arn)).trim();
    // A secret can hold the key or `{"apiKey": "..."}` (the shape CDK-generated secrets take).
    const key = secret.startsWith("{")
      ? String((JSON.parse(secret) as { apiKey?: unknown }).apiKey ?? "")
      : secret;
    if (!key) throw new Error("the ops key secret is empty");
    return hashApiKey(key);
  }
  if (env.OPS_API_KEY) return hashApiKey(env.OPS_API_KEY);
  throw new Error("No ops key configured: set OPS_API_KEY_HASH, OPS_API_KEY_SECRET_ARN or OPS_API_KEY");
}
