/** A user's sign-in: the authorize endpoint and the codes it issues. */
import { randomBytes, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { escapeHtml } from "../http.ts";
import type { SimHost } from "../server.ts";
import type { SimSignInUser } from "../types.ts";

/** Global Administrator's role template id: the simulated user's role unless a test says otherwise. */
export const GLOBAL_ADMINISTRATOR_ROLE = "62e90394-69f5-4237-9190-012177145e10";
/** Entra's authorization codes are short lived (about 10 minutes). */
const CODE_LIFETIME_MS = 10 * 60_000;

export interface IssuedCode {
  /** The tenant of the authorize endpoint it came from. */
  tenantId: string;
  clientId: string;
  redirectUri: string;
  nonce: string | undefined;
  /** PKCE: the authorize request's challenge (S256 or plain). */
  codeChallenge: { value: string; method: string } | undefined;
  scopes: string[];
  user: Required<SimSignInUser> & { oid: string };
  expiresAt: number;
  redeemed: boolean;
}

/** What the sign-in remembers between the authorize endpoint and the code's redemption. */
export interface SignInBook {
  /** Who signs in at a tenant's authorize endpoint (default: a Global Administrator of it). */
  readonly users: Map<string, SimSignInUser>;
  readonly codes: Map<string, IssuedCode>;
  /** The app's registered redirect URIs; when none is registered, loopback http(s) ones are accepted. */
  readonly redirectUris: Set<string>;
  /** The access tokens the code grant issued, per tenant (see `SimulatorControl.userTokens`). */
  readonly userTokens: Map<string, string[]>;
}

function redirectAllowed(book: SignInBook, uri: string): boolean {
  if (book.redirectUris.size > 0) return book.redirectUris.has(uri);
  try {
    const url = new URL(uri);
    return /^https?:$/.test(url.protocol) && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * The sign-in of a user of the tenant (`response_type=code`, `response_mode=query`): the
 * simulated user signs in at once and the browser goes back to the registered `redirect_uri`
 * with a single-use `code` bound to the client, the redirect URI, the nonce and the PKCE
 * challenge (when given, the redemption must bring its verifier).
 */
export async function authorize(
  host: SimHost,
  book: SignInBook,
  res: ServerResponse,
  tenantId: string,
  url: URL,
): Promise<void> {
  const call = host.record({ tenantId, service: "identity", operation: "authorize", write: false });
  const page = (status: number, text: string) => {
    call.status = status;
    res
      .writeHead(status, { "content-type": "text/html; charset=utf-8" })
      .end(`<!doctype html><title>Sign in</title><p>${escapeHtml(text)}</p>`);
  };
  const q = url.searchParams;
  const clientId = q.get("client_id") ?? "";
  if (clientId !== host.settings.clientId) {
    return page(
      400,
      `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`,
    );
  }
  const redirectUri = q.get("redirect_uri") ?? "";
  if (!redirectAllowed(book, redirectUri)) {
    return page(
      400,
      `AADSTS50011: The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
    );
  }
  const back = new URL(redirectUri);
  const state = q.get("state");
  if (state !== null) back.searchParams.set("state", state);
  const redirect = () => {
    call.status = 302;
    res.writeHead(302, { location: back.toString() }).end();
  };
  const fail = (error: string, description: string) => {
    back.searchParams.set("error", error);
    back.searchParams.set("error_description", description);
    redirect();
  };
  if (q.get("response_type") !== "code") {
    return fail(
      "unsupported_response_type",
      "AADSTS700054: response_type is not enabled for the application.",
    );
  }
  const mode = q.get("response_mode") ?? "query";
  if (mode !== "query") {
    return fail(
      "invalid_request",
      `AADSTS900144: response_mode '${mode}' is not supported by the simulator.`,
    );
  }
  const scopes = (q.get("scope") ?? "").split(/\s+/).filter(Boolean);
  if (!scopes.includes("openid")) {
    return fail(
      "invalid_request",
      "AADSTS900144: The request body must contain the following parameter: 'scope' with 'openid'.",
    );
  }
  const chosen = book.users.get(tenantId);
  const user = {
    roles: chosen?.roles ?? [GLOBAL_ADMINISTRATOR_ROLE],
    tenantId: (chosen?.tenantId ?? tenantId).toLowerCase(),
    wids: chosen?.wids ?? true,
    declineExchange: chosen?.declineExchange ?? false,
    oid: randomUUID(),
  };
  const code = `sim.${randomBytes(32).toString("base64url")}`;
  book.codes.set(code, {
    tenantId,
    clientId,
    redirectUri,
    nonce: q.get("nonce") ?? undefined,
    codeChallenge: q.get("code_challenge")
      ? { value: q.get("code_challenge") ?? "", method: q.get("code_challenge_method") ?? "plain" }
      : undefined,
    scopes,
    user,
    expiresAt: Date.now() + CODE_LIFETIME_MS,
    redeemed: false,
  });
  for (const [key, issued] of book.codes) if (issued.expiresAt < Date.now()) book.codes.delete(key);
  back.searchParams.set("code", code);
  back.searchParams.set("session_state", randomUUID());
  redirect();
}
