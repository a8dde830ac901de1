/**
 * Per-partner request limits in AWS: API Gateway usage plans. Every partner gets its own API
 * Gateway API key (value `<USAGE_KEY_PREFIX><partnerId>`, not a secret: callers never send it,
 * the authorizer names it as `usageIdentifierKey`) in the partners' usage plan, whose throttle
 * applies per API key. API Gateway enforces it (429) before the API function runs.
 */
import {
  APIGatewayClient,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  GetApiKeysCommand,
  GetUsagePlansCommand,
} from "@aws-sdk/client-api-gateway";
import { logger } from "../commons/observability.ts";
import type { PartnerLimits } from "../domain/partners.ts";
import { usageKeyValue } from "./usage-key.ts";

export class UsagePlanPartnerLimits implements PartnerLimits {
  readonly #client: APIGatewayClient;
  readonly #planName: string;
  readonly #prefix: string;
  readonly #onError: (err: unknown, partnerId: string) => void;
  #planId: Promise<string> | undefined;

  constructor(options: {
    usagePlanName: string;
    keyPrefix: string;
    client?: APIGatewayClient;
    /** Told when a partner's key could not be made (it then meets the shared limit). */
    onError?: (err: unknown, partnerId: string) => void;
  }) {
    this.#client = options.client ?? new APIGatewayClient({});
    this.#planName = options.usagePlanName;
    this.#prefix = options.keyPrefix;
    this.#onError = options.onError ?? (() => {});
  }

  /** The plan's id, looked up by name once per container. */
  #usagePlanId(): Promise<string> {
    this.#planId ??= (async () => {
      let position: string | undefined;
      do {
        const page = await this.#client.send(
          new GetUsagePlansCommand({ limit: 500, ...(position && { position }) }),
        );
        const plan = page.items?.find((p) => p.name === this.#planName);
        if (plan?.id) return plan.id;
        position = page.position;
      } while (position);
      throw new Error(`usage plan ${this.#planName} not found`);
    })();
    this.#planId.catch(() => {
      this.#planId = undefined;
    });
    return this.#planId;
  }

  /**
   * Creates the partner's API key and adds it to the plan; both steps tolerate "already there",
   * so a failed attempt is finished by the next (a new key of the partner's). Answers false,
   * without throwing, when API Gateway could not be brought to hold the key: the partner's key
   * is issued all the same and meets the shared partners' limit until then.
   */
  async ensurePartner(partnerId: string): Promise<boolean> {
    try {
      await this.#ensure(partnerId);
      return true;
    } catch (err) {
      this.#onError(err, partnerId);
      return false;
    }
  }

  async #ensure(partnerId: string): Promise<void> {
    const name = `${this.#prefix}${partnerId}`;
    let keyId: string | undefined;
    try {
      const created = await this.#client.send(
        new CreateApiKeyCommand({
          name,
          value: usageKeyValue(name),
          enabled: true,
          description: `Request limit of partner ${partnerId}`,
        }),
      );
      keyId = created.id;
    } catch (err) {
      if (!(err instanceof ConflictException)) throw err;
    }
    if (!keyId) {
      const found = await this.#client.send(new GetApiKeysCommand({ nameQuery: name, limit: 10 }));
      keyId = found.items?.find((k) => k.name === name)?.id;
      if (!keyId) throw new Error(`the API key ${name} exists but could not be found`);
    }
    try {
      await this.#client.send(
        new CreateUsagePlanKeyCommand({
          usagePlanId: await this.#usagePlanId(),
          keyId,
          keyType: "API_KEY",
        }),
      );
    } catch (err) {
      if (!(err instanceof ConflictException)) throw err;
    }
  }
}

/** From `USAGE_PLAN_NAME` and `USAGE_KEY_PREFIX`; undefined when either is unset. */
export function usagePlanLimitsFromEnv(
  env: Record<string, string | undefined>,
): UsagePlanPartnerLimits | undefined {
  const usagePlanName = env.USAGE_PLAN_NAME?.trim();
  const keyPrefix = env.USAGE_KEY_PREFIX?.trim();
  return usagePlanName && keyPrefix
    ? new UsagePlanPartnerLimits({
        usagePlanName,
        keyPrefix,
        onError: (err, partnerId) =>
          logger.error("could not create the partner's API Gateway key; it meets the shared limit", {
            partnerId,
            error: String(err),
          }),
      })
    : undefined;
}
