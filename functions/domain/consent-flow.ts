/**
 * The consent callback, in three legs, each a GET of the customer admin's browser:
 *
 * 1. Entra's admin consent redirect (`admin_consent=True`, `tenant`, the partner's signed
 *    `state`). Entra does not authenticate it: anyone holding a consentUrl can open it. It binds
 *    nothing and redirects nowhere: it shows a page naming the partner and the tenant with a
 *    Continue button, and gives the browser an id (a cookie).
 * 2. Continue (`state` and the page's token, which only that browser's id matches): a new
 *    short-lived sign-in state, recorded for that browser and usable once, and a redirect to
 *    Entra's sign-in of the tenant (nonce, PKCE). Without the matching id the page is shown again.
 * 3. Back from the sign-in with a `code`: the state is used up for that browser (a forwarded or
 *    replayed link fails here), the code is redeemed at the tenant's token endpoint with the app's
 *    own credential and the PKCE verifier, and only an ID token of that tenant, for this app, with
 *    the nonce, of a user holding a role that can grant the app's consent binds the tenant to the
 *    partner named in the state.
 *
 * A link with the purpose `permissions` (the consentUrl of a tenant bound to its partner and
 * waiting in `awaiting_permissions`) goes through the same legs without Entra's consent: its page
 * offers the least-privilege setup, and its sign-in runs the setup and never binds
 * (permissions-link.ts).
 */
import {
  type ConsentLinks,
  checkAdminClaims,
  SIGN_IN_STATE_LIFETIME_MS,
  type SignInRejection,
} from "./binding.ts";
import { codeChallenge } from "./consent-browser.ts";
import type { AdminExchangeAccess, LeastPrivilegeChoice, SetupSummary } from "./least-privilege-consent.ts";
import type { PermissionsOutcome } from "./permissions-link.ts";

/**
 * What the consent callback received: Entra's query parameters (after admin consent
 * `admin_consent`, `tenant`, `state`; after the sign-in `code`, `state`; or `error`), the
 * Continue form's token, and the browser's id (its cookie).
 */
export interface ConsentAnswer {
  state?: string;
  tenant?: string;
  adminConsent?: string;
  code?: string;
  error?: string;
  errorDescription?: string;
  /** The Continue form's page token. */
  continueToken?: string;
  /** The browser's id, from its cookie. */
  browser?: string;
  /**
   * The Continue form's least-privilege choice (`setup`, the default, or `script`); read only
   * with a valid page token, so a forwarded link cannot change it after the page.
   */
  leastPrivilege?: string;
}

/**
 * What the consent callback did. `confirm`: the page naming the partner and the tenant, whose
 * Continue form goes to `callbackUrl` with `state` and `pageToken`; the browser keeps
 * `browserId`. `sign-in`: the browser goes on to Entra's sign-in of that tenant. The others are
 * pages saying what happened.
 */
export type ConsentOutcome =
  | {
      kind: "confirm";
      tenantId: string;
      partnerName: string;
      state: string;
      pageToken: string;
      browserId: string;
      callbackUrl: string;
      /** The origin of Entra's sign-in, where the Continue form's answer redirects. */
      signInOrigin: string;
      /** `permissions`: the page of a bound tenant's least-privilege setup, not of a binding. */
      purpose?: "permissions";
    }
  | PermissionsOutcome
  | { kind: "bound"; tenantId: string; setup?: SetupSummary }
  | { kind: "already-bound"; tenantId: string }
  | { kind: "sign-in"; location: string }
  | { kind: "declined"; error: string; stage: "consent" | "sign-in" }
  | { kind: "invalid-state" }
  | { kind: "tenant-mismatch" }
  | { kind: "link-not-valid" }
  | { kind: "not-this-browser" }
  | { kind: "sign-in-rejected"; tenantId: string; reason: SignInRejection | "code-rejected" | "no-code" }
  | { kind: "sign-in-unavailable" };

export interface ConsentFlowContext {
  links: ConsentLinks | undefined;
  now: Date;
  /** The partner's name as the customer's admin is shown it; undefined when it does not exist. */
  partnerName(partnerId: string): Promise<string | undefined>;
  /**
   * Binds the tenant to the partner (the admin's sign-in proved the consent); with `admin`, the
   * admin's Exchange access sets up the app's least privilege first.
   */
  bind(partnerId: string, tenantId: string, admin?: AdminExchangeAccess): Promise<ConsentOutcome>;
  /** Whether the partner's tenant waits in `awaiting_permissions` (a `permissions` link's page). */
  waitingForPermissions(partnerId: string, tenantId: string): Promise<boolean>;
  /** The setup as the admin, then a retry of the tenant (permissions-link.ts); never binds. */
  setUpPermissions(partnerId: string, tenantId: string, admin?: AdminExchangeAccess): Promise<ConsentOutcome>;
}

/** Entra's `error` as shown on the page: a short code of safe characters, never its description. */
function shortErrorCode(error: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? error : "unknown_error";
}

export async function consentCallback(
  answer: ConsentAnswer,
  ctx: ConsentFlowContext,
): Promise<ConsentOutcome> {
  const links = ctx.links;
  if (!links) return { kind: "invalid-state" };
  const state = links.signer.verify(answer.state, ctx.now);
  if (answer.error !== undefined) {
    return {
      kind: "declined",
      error: shortErrorCode(answer.error),
      stage: state.ok && state.stage === "sign-in" ? "sign-in" : "consent",
    };
  }
  if (!state.ok || answer.state === undefined) return { kind: "invalid-state" };
  const { signIn, browser } = links;
  if (!signIn || !browser) return { kind: "sign-in-unavailable" };
  const { partnerId, tenantId } = state;
  const forPermissions = state.purpose === "permissions";
  const browserId = browser.isId(answer.browser) ? answer.browser : undefined;

  if (state.stage === "consent") {
    if (forPermissions) {
      // Bound already, no consent from Entra: the page only while the tenant waits for permissions.
      if (!(await ctx.waitingForPermissions(partnerId, tenantId))) return { kind: "permissions-not-needed" };
    } else if (answer.continueToken === undefined) {
      if (
        answer.adminConsent?.toLowerCase() !== "true" ||
        answer.tenant?.toLowerCase() !== tenantId.toLowerCase()
      ) {
        return { kind: "tenant-mismatch" };
      }
    }
    if (
      answer.continueToken !== undefined &&
      browserId &&
      browser.checkPageToken(browserId, answer.state, answer.continueToken)
    ) {
      const leastPrivilege: LeastPrivilegeChoice =
        answer.leastPrivilege === "script" && !forPermissions ? "script" : "setup";
      const next = links.signer.signSignIn(
        { partnerId, tenantId, leastPrivilege, ...(forPermissions && { purpose: "permissions" as const }) },
        ctx.now,
      );
      const record = { browser: browser.hash(browserId), partnerId, tenantId };
      await browser.states.issue(next.nonce, record, new Date(ctx.now.getTime() + SIGN_IN_STATE_LIFETIME_MS));
      const verifier = browser.codeVerifier(browserId, next.nonce);
      return {
        kind: "sign-in",
        location: signIn.authorizeUrl({
          tenantId,
          redirectUri: links.redirectUri,
          ...next,
          codeChallenge: codeChallenge(verifier),
          exchange: leastPrivilege === "setup",
        }),
      };
    }
    // The first leg, or a Continue from another browser (a forwarded link): the page, again.
    const partnerName = await ctx.partnerName(partnerId);
    if (partnerName === undefined) return { kind: "link-not-valid" };
    const id = browserId ?? browser.newId();
    return {
      kind: "confirm",
      tenantId,
      partnerName,
      state: answer.state,
      pageToken: browser.pageToken(id, answer.state),
      browserId: id,
      callbackUrl: links.redirectUri,
      signInOrigin: signInOrigin(links, tenantId),
      ...(forPermissions && { purpose: "permissions" as const }),
    };
  }

  if (!answer.code) return { kind: "sign-in-rejected", tenantId, reason: "no-code" };
  // Used up before anything else: a replayed or forwarded sign-in answer stops here.
  if (
    !browserId ||
    !(await browser.states.consume(
      state.nonce,
      { browser: browser.hash(browserId), partnerId, tenantId },
      ctx.now,
    ))
  ) {
    return { kind: "not-this-browser" };
  }
  const redeemed = await signIn.redeem({
    tenantId,
    code: answer.code,
    redirectUri: links.redirectUri,
    nonce: state.nonce,
    codeVerifier: browser.codeVerifier(browserId, state.nonce),
    exchange: state.leastPrivilege === "setup",
  });
  if (!redeemed.ok) {
    return redeemed.transient
      ? { kind: "sign-in-unavailable" }
      : { kind: "sign-in-rejected", tenantId, reason: "code-rejected" };
  }
  const rejection = checkAdminClaims(redeemed.claims, {
    tenantId,
    clientId: signIn.clientId,
    nonce: state.nonce,
  });
  if (rejection) return { kind: "sign-in-rejected", tenantId, reason: rejection };
  if (forPermissions) return ctx.setUpPermissions(partnerId, tenantId, redeemed.admin);
  const bound = await ctx.bind(partnerId, tenantId, redeemed.admin);
  if (bound.kind !== "bound") return bound;
  if (state.leastPrivilege === "script") return { ...bound, setup: "script" };
  return redeemed.exchangeDeclined ? { ...bound, setup: "declined" } : bound;
}

/** The origin of the tenant's sign-in endpoint (the Continue form's redirect goes there). */
function signInOrigin(links: ConsentLinks, tenantId: string): string {
  const url = links.signIn?.authorizeUrl({
    tenantId,
    redirectUri: links.redirectUri,
    state: "-",
    nonce: "-",
  });
  return url ? new URL(url).origin : "";
}
