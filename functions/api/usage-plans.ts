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
import type { PartnerLimits } from "../domain/onboarding.ts";

export class UsagePlanPartnerLimits implements PartnerLimits {
  readonly #client: APIGatewayClient;
  readonly #planName: string;
  readonly #prefix: string;
  #planId: Promise<string> | undefined;

  constructor(options: { usagePlanName: string; keyPrefix: string; client?: APIGatewayClient }) {
    this.#client = options.client ?? new APIGatewayClient({});
    this.#planName = options.usagePlanName;
    this.#prefix = options.keyPrefix;
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

  /** Creates the partner's API key and adds it to the plan; both steps tolerate "already there". */
  async ensurePartner(partnerId: string): Promise<boolean> {
    const name = `${this.#prefix}${partnerId}`;
    let keyId: string | undefined;
    try {
      const created = await this.#client.send(
        new CreateApiKeyCommand({
          name,
          value: name,
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
    return true;
  }
}

/** From `USAGE_PLAN_NAME` and `USAGE_KEY_PREFIX`; undefined when either is unset. */
export function usagePlanLimitsFromEnv(
  env: Record<string, string | undefined>,
): UsagePlanPartnerLimits | undefined {
  const usagePlanName = env.USAGE_PLAN_NAME?.trim();
  const keyPrefix = env.USAGE_KEY_PREFIX?.trim();
  return usagePlanName && keyPrefix ? new UsagePlanPartnerLimits({ usagePlanName, keyPrefix }) : undefined;
}
