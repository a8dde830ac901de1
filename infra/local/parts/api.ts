/**
 * The API behind a local HTTP server: the same handler as the API Lambda. Entra accepts only
 * the app's registered redirect URIs, so the simulator's app gets the consent callback.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type ApiDependencies, createApi } from "../../../functions/api/app.ts";
import { TableIdempotencyLayer } from "../../../functions/api/idempotency.ts";
import { RateLimiter, rateLimitFromEnv } from "../../../functions/api/rate-limit.ts";
import { readM365AppConfig } from "../../../functions/commons/config.ts";
import { hashApiKey } from "../../../functions/domain/api-keys.ts";
import { type LocalHttpServer, startHttpServer } from "../http-server.ts";
import type { Simulator } from "../m365-simulator/index.ts";
import type { Part } from "./parts.ts";

export interface ApiPart extends Part {
  http: LocalHttpServer;
  /** Every key's request limit (PARTNER_RATE_LIMIT_*). */
  rateLimiter: RateLimiter;
}

/** `stop` closes the server (requests in progress finish); its port joins `ownPorts`. */
export async function startApiServer(options: {
  env: NodeJS.ProcessEnv;
  port: number;
  deps: Omit<ApiDependencies, "opsKeyHash" | "idempotency" | "rateLimiter" | "m365AppId">;
  client: DynamoDBClient;
  tableName: string;
  opsApiKey: string;
  simulator: Simulator | undefined;
  /** Called once the server listens, before the simulator learns the redirect URI. */
  onListening: (url: string) => void;
  redirectUri: () => string;
  ownPorts: number[];
}): Promise<ApiPart> {
  const { env, simulator } = options;
  const rateLimiter = new RateLimiter(rateLimitFromEnv(env));
  const api = createApi({
    ...options.deps,
    opsKeyHash: hashApiKey(options.opsApiKey),
    idempotency: new TableIdempotencyLayer({ client: options.client, tableName: options.tableName }),
    rateLimiter,
    m365AppId: async () => simulator?.clientId ?? readM365AppConfig(env)?.clientId,
  });
  const http = await startHttpServer({ handler: api, port: options.port });
  options.onListening(http.url);
  try {
    // A simulator on its own thread answers asynchronously: wait for it.
    if (simulator) await Promise.resolve(simulator.registerRedirectUri(options.redirectUri()));
  } catch (err) {
    await http.close().catch(() => undefined);
    throw err;
  }
  options.ownPorts.push(Number(new URL(http.url).port));
  return { http, rateLimiter, stop: () => http.close() };
}
