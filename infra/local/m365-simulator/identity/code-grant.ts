/** The token endpoint's authorization code grant: the signed-in user's ID token and access token. */
import { createHash, createHmac } from "node:crypto";
import { asksForExchange, EXCHANGE_MANAGE } from "../exchange/delegated.ts";
import { entraError } from "../http.ts";
import type { SimHost } from "../server.ts";
import type { SignInBook } from "./authorize.ts";
import { checkClientCredentials } from "./client-auth.ts";
import { signJwt, signToken } from "./tokens.ts";

/** What every member user holds (the "User" role template). */
const USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509";

/**
 * The authorization code grant: the app authenticates (secret or assertion) and the code must
 * be one this tenant's authorize endpoint issued to this client for this redirect URI, not
 * redeemed before and not expired. Answers an ID token of the signed-in user.
 */
export async function redeemCode(
  host: SimHost,
  book: SignInBook,
  form: URLSearchParams,
  tenantId: string,
  reply: (status: number, body: unknown) => void,
): Promise<void> {
  const clientId = form.get("client_id") ?? "";
  if (clientId !== host.settings.clientId) {
    return reply(
      400,
      entraError(
        "unauthorized_client",
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`,
        700016,
      ),
    );
  }
  const authFailure = checkClientCredentials(host, form, tenantId, "authorization_code");
  if (authFailure) return reply(401, authFailure);
  const code = form.get("code") ?? "";
  const issued = book.codes.get(code);
  const invalid = (description: string, number: number) =>
    reply(400, entraError("invalid_grant", description, number));
  if (!issued) return invalid("AADSTS9002313: Invalid request. Request is malformed or invalid.", 9002313);
  if (issued.redeemed) {
    return invalid(
      "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
      54005,
    );
  }
  // A code is spent by any redemption attempt (a second try with the same code is refused).
  issued.redeemed = true;
  if (issued.expiresAt < Date.now()) {
    return invalid(
      "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
      70008,
    );
  }
  if (issued.tenantId !== tenantId) {
    return invalid(
      "AADSTS700005: Provided Authorization Code is intended to use against other tenant, thus rejected.",
      700005,
    );
  }
  if (issued.clientId !== clientId) {
    return invalid("AADSTS70000: The provided authorization code was issued to another client.", 70000);
  }
  if (issued.redirectUri !== (form.get("redirect_uri") ?? "")) {
    return invalid(
      "AADSTS500112: The reply address does not match the reply address provided when requesting the authorization code.",
      500112,
    );
  }
  if (issued.codeChallenge && !pkceMatches(issued.codeChallenge, form.get("code_verifier"))) {
    return invalid(
      "AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
      50148,
    );
  }
  const { user } = issued;
  const now = Math.floor(Date.now() / 1000);
  const lifetime = host.settings.tokenLifetimeSeconds;
  const idToken = signJwt(
    {
      aud: clientId,
      iss: `${host.url}/${user.tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      ...(issued.nonce !== undefined && { nonce: issued.nonce }),
      oid: user.oid,
      sub: createHmac("sha256", host.settings.tokenKey).update(`${clientId}|${user.oid}`).digest("base64url"),
      tid: user.tenantId,
      name: "Simulated admin",
      preferred_username: `admin@${user.tenantId}.simulator.local`,
      ...(user.wids && { wids: [...user.roles, USER_ROLE] }),
      ver: "2.0",
    },
    host.settings.tokenKey,
  );
  // With Exchange.Manage asked for (and not declined), the access token is the user's for
  // Exchange (delegated: `scp`, and the user's roles decide what it may run); else for Graph.
  const exchange = asksForExchange(issued.scopes, host.endpoints.exchange) && !user.declineExchange;
  const granted = issued.scopes.filter((s) => exchange || !asksForExchange([s], host.endpoints.exchange));
  const accessToken = signToken(
    {
      aud: exchange ? host.endpoints.exchange : host.endpoints.graph,
      tid: user.tenantId,
      appid: clientId,
      roles: [],
      exp: now + lifetime,
      ...(exchange && { scp: EXCHANGE_MANAGE, wids: [...user.roles, USER_ROLE], oid: user.oid }),
    },
    host.settings.tokenKey,
  );
  book.userTokens.set(tenantId, [...(book.userTokens.get(tenantId) ?? []), accessToken]);
  reply(200, {
    token_type: "Bearer",
    scope: granted.join(" "),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
    id_token: idToken,
    client_info: Buffer.from(JSON.stringify({ uid: user.oid, utid: user.tenantId })).toString("base64url"),
  });
}

/** RFC 7636 4.6: the verifier, hashed (S256) or as is (plain), is the authorize request's challenge. */
function pkceMatches(challenge: { value: string; method: string }, verifier: string | null): boolean {
  if (!verifier) return false;
  const derived =
    challenge.method === "S256" ? createHash("sha256").update(verifier).digest("base64url") : verifier;
  return derived === challenge.value;
}
