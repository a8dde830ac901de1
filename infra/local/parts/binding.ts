/**
 * Binding by consent: claims and customer names on the same table; consent links carry a
 * state signed with a key kept in DATA_DIR, and send the admin back to this service, which
 * then has the admin sign in (the configured app's credential, or the simulator's).
 */
import { join } from "node:path";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoChangeLogStore } from "../../../functions/adapters/dynamodb/change-log-store.ts";
import { DynamoClaimStore } from "../../../functions/adapters/dynamodb/claim-store.ts";
import type { TableContext } from "../../../functions/adapters/dynamodb/query.ts";
import { DynamoSignInStates } from "../../../functions/adapters/dynamodb/sign-in-states.ts";
import { createAdminSignIn, type SignInCredential } from "../../../functions/adapters/m365/admin-sign-in.ts";
import { CONSENT_CALLBACK_PATH, createConsentLinks } from "../../../functions/api/consent.ts";
import { readM365AppConfig, resolveM365Endpoints } from "../../../functions/commons/config.ts";
import { generateApiKey } from "../../../functions/domain/api-keys.ts";
import type { M365Gateway } from "../../../functions/domain/m365.ts";
import type { Simulator } from "../m365-simulator/index.ts";
import { keptSecret } from "./data-dir.ts";

export interface ConsentBinding {
  binding: {
    claims: DynamoClaimStore;
    changeLog: DynamoChangeLogStore;
    links: ReturnType<typeof createConsentLinks>;
  };
  /** Where consent sends the admin back: M365_CONSENT_REDIRECT_URI, else this service's callback. */
  redirectUri(): string;
}

export async function createConsentBinding(options: {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  ctx: TableContext;
  cursorSecret: string;
  changeLog: DynamoChangeLogStore;
  m365: M365Gateway;
  simulator: Simulator | undefined;
  logger: Logger;
  /** The API's URL, once it listens. */
  apiUrl: () => string;
}): Promise<ConsentBinding> {
  const { env, ctx, m365, logger } = options;
  const consentSecret = await keptSecret(join(options.dataDir, "consent-state-secret"), () =>
    generateApiKey(),
  );
  const app = readM365AppConfig(env);
  const redirectUri = () =>
    env["M365_CONSENT_REDIRECT_URI"]?.trim() || `${options.apiUrl()}${CONSENT_CALLBACK_PATH}`;
  const binding = {
    claims: new DynamoClaimStore({
      client: ctx.client,
      tableName: ctx.table,
      cursorSecret: options.cursorSecret,
    }),
    changeLog: options.changeLog,
    links: createConsentLinks({
      secret: consentSecret,
      adminConsentUrl: (tenantId) => m365.consentUrl(tenantId),
      redirectUri,
      signIns: new DynamoSignInStates({ client: ctx.client, tableName: ctx.table }),
      signIn: createAdminSignIn({
        ...signInApp(env, options.simulator),
        ...(app && resolveM365Endpoints(env).explicitAuthorityHost && { disableInstanceDiscovery: true }),
        onFailure: (failure) => logger.warn("consent sign-in not redeemed", failure),
      }),
    }),
  };
  return { binding, redirectUri };
}

/** The app the admin signs in with: the configured one, else the simulator's. */
function signInApp(
  env: NodeJS.ProcessEnv,
  simulator: Simulator | undefined,
): { clientId: string; credential: SignInCredential; authorityHost: string; exchange: { endpoint: string } } {
  const app = readM365AppConfig(env);
  if (app) {
    return {
      clientId: app.clientId,
      credential: app.clientCertificatePath
        ? { certificatePath: app.clientCertificatePath }
        : { clientSecret: app.clientSecret! },
      authorityHost: resolveM365Endpoints(env).endpoints.authorityHost,
      exchange: { endpoint: resolveM365Endpoints(env).endpoints.exchange },
    };
  }
  return {
    clientId: simulator!.clientId,
    credential: { clientSecret: simulator!.clientSecret },
    authorityHost: simulator!.endpoints.authorityHost,
    exchange: { endpoint: simulator!.endpoints.exchange },
  };
}
