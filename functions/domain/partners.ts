/**
 * Partners and their API keys (ops): a partner and its first key are created together; more
 * keys can be issued and any one revoked. A key is returned once and only its hash is stored.
 */
import { randomBytes } from "node:crypto";
import { generateApiKey, hashApiKey } from "./api-keys.ts";
import type { Page } from "./page.ts";
import type { ApiKeyInfo, Partner, TenantStore } from "./store.ts";

/** What partner administration needs of the store: partners and keys, never a tenant. */
export type PartnerStore = Pick<
  TenantStore,
  "createPartner" | "listPartners" | "getPartner" | "putApiKey" | "listApiKeys" | "revokeApiKey"
>;

/** Active keys a partner may hold at once (rotation needs two; a few spare for several portals). */
export const MAX_KEYS_PER_PARTNER = 10;

/** Not found: an unknown partner, or a key id this partner does not hold. */
export class PartnerKeyNotFoundError extends Error {
  override readonly name = "PartnerKeyNotFoundError";
}

/**
 * Where per-partner request limits are enforced outside this process (API Gateway usage plans
 * in AWS). `ensurePartner` is idempotent; it answers whether the partner now has its own limit.
 */
export interface PartnerLimits {
  ensurePartner(partnerId: string): Promise<boolean>;
}

/** Partner administration (ops). */
export class PartnerService {
  readonly #store: PartnerStore;
  readonly #clock: () => Date;
  readonly #limits: PartnerLimits | undefined;

  constructor(options: { store: PartnerStore; clock?: () => Date; limits?: PartnerLimits }) {
    this.#store = options.store;
    this.#clock = options.clock ?? (() => new Date());
    this.#limits = options.limits;
  }

  async createPartner(name: string): Promise<{ partner: Partner; apiKey: string; keyId: string }> {
    const partner = await this.#store.createPartner(name, this.#clock().toISOString());
    const { apiKey, keyId } = await this.#issueKey(partner.partnerId);
    return { partner, apiKey, keyId };
  }

  listPartners(query: { limit: number; cursor?: string }): Promise<Page<Partner>> {
    return this.#store.listPartners(query);
  }

  /** A further key for the partner (rotation); PartnerKeyNotFoundError for an unknown partner. */
  async createKey(partnerId: string): Promise<ApiKeyInfo & { apiKey: string }> {
    if (!(await this.#store.getPartner(partnerId))) {
      throw new PartnerKeyNotFoundError(`Partner ${partnerId} was not found.`);
    }
    // The limit is enforced by the store, atomically (ConflictError past it).
    return this.#issueKey(partnerId);
  }

  /** The partner's active keys (ids and dates, never the key); PartnerKeyNotFoundError for an unknown partner. */
  async listKeys(partnerId: string): Promise<ApiKeyInfo[]> {
    if (!(await this.#store.getPartner(partnerId))) {
      throw new PartnerKeyNotFoundError(`Partner ${partnerId} was not found.`);
    }
    return this.#store.listApiKeys(partnerId);
  }

  /** Revokes one key at once (its lookup fails from now on); PartnerKeyNotFoundError when not held. */
  async revokeKey(partnerId: string, keyId: string): Promise<void> {
    if (!(await this.#store.revokeApiKey(partnerId, keyId))) {
      throw new PartnerKeyNotFoundError(`Key ${keyId} of partner ${partnerId} was not found.`);
    }
  }

  async #issueKey(partnerId: string): Promise<ApiKeyInfo & { apiKey: string }> {
    // The partner's own rate limit exists before its key does (AWS: a usage plan key).
    const usageKey = (await this.#limits?.ensurePartner(partnerId)) ?? false;
    const apiKey = generateApiKey();
    const keyId = `key_${randomBytes(8).toString("hex")}`;
    const createdAt = this.#clock().toISOString();
    await this.#store.putApiKey(hashApiKey(apiKey), { role: "partner", partnerId }, createdAt, {
      keyId,
      usageKey,
      maxKeys: MAX_KEYS_PER_PARTNER,
    });
    return { keyId, createdAt, apiKey };
  }
}
