/**
 * Binding a customer tenant to a partner by consent. One Entra app serves every partner, so a
 * tenant's consent alone proves nothing about which partner the customer chose: a tenant is
 * bound to a partner only when the customer's admin completes admin consent through the
 * `consentUrl` issued to that partner. That URL carries a `state` naming the partner and the
 * tenant, signed by the service and short-lived; Entra hands it back to the consent callback.
 *
 * Model:
 * - the tenant record (the one the workflow runs on, addressed by tenantId) is the BOUND one:
 *   its `partnerId` is the binding. Records written before binding existed count as bound to
 *   their partner;
 * - a partner's claim on a tenant that is not bound to it is a record of its own per
 *   (tenantId, partnerId), shown to that partner as its tenant resource (`awaiting_consent`
 *   with its consentUrl, or `failed` with TENANT_BOUND_ELSEWHERE). No workflow runs and no
 *   Exchange call is made for a claim. Claims never block another partner and expire after
 *   30 days;
 * - the first consent completed through a partner's URL binds the tenant to that partner and
 *   starts its onboarding; the other open claims end `failed` TENANT_BOUND_ELSEWHERE. When the
 *   tenant was bound to another partner, that partner's record is kept, `offboarded` with
 *   TENANT_MOVED, as its own claim-like record, and the new record takes over what the service
 *   owns in the tenant (`change-of-owner.ts`);
 * - `customerName` is reserved at binding, never by a claim (CUSTOMER_NAME_TAKEN when another
 *   partner's bound tenant holds it).
 *
 * Pure rules and ports; the DynamoDB adapter is `adapters/dynamodb/claim-store.ts`, the HTTP
 * side `api/consent.ts`.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { BrowserBinding } from "./consent-browser.ts";
import { ConflictError, type ErrorInfo } from "./errors.ts";
import type { AdminExchangeAccess, LeastPrivilegeChoice } from "./least-privilege-consent.ts";
import type { Page } from "./page.ts";
import type { OnboardingRequest, Tenant, TenantCorrection, TenantEvent, TenantStatus } from "./tenant.ts";

/** How long an unbound claim waits for the customer's consent. */
export const CLAIM_LIFETIME_MS = 30 * 24 * 3600 * 1000;
/** How long a consent link's `state` is accepted (a fresh one is issued on every read of the tenant). */
export const CONSENT_STATE_LIFETIME_MS = 7 * 24 * 3600 * 1000;

export const TENANT_BOUND_ELSEWHERE: ErrorInfo = {
  code: "TENANT_BOUND_ELSEWHERE",
  message:
    "The customer's admin connected this tenant to another provider; nothing was changed in the tenant. Contact the customer if this is unexpected.",
};

export const CUSTOMER_NAME_TAKEN: ErrorInfo = {
  code: "CUSTOMER_NAME_TAKEN",
  message:
    "The customer's admin consented, but the customerName is the account of another provider's customer tenant; nothing was changed in the tenant. Correct customerName (PATCH), then retry for a new consentUrl.",
};

export const CLAIM_EXPIRED: ErrorInfo = {
  code: "CONSENT_EXPIRED",
  message:
    "The customer's admin did not consent within 30 days; retry the tenant to get a new consentUrl and send it to the customer's admin.",
};

export const CONSENT_PENDING: ErrorInfo = {
  code: "CONSENT_REQUIRED",
  message:
    "A global admin of the customer's tenant must grant consent at the consentUrl and sign in once when asked; onboarding then starts by itself.",
};

/** A partner's record of a tenant that is not bound to it: an open claim, or a former binding. */
export interface StoredClaim {
  /** The tenant resource as this partner sees it. */
  tenant: Tenant;
  /** What the partner asked for (with groups): the onboarding request once bound. */
  request: OnboardingRequest;
  /** The record of a previous binding (offboarded when the tenant moved to another partner). */
  former: boolean;
  /** When an open claim lapses. */
  expiresAt?: string;
  /** Its own history, oldest first, sequences from 1. */
  events: TenantEvent[];
}

export interface ClaimChange {
  status?: TenantStatus;
  /** The write only happens when the claim's status is one of these (else ConflictError). */
  expectStatus?: readonly TenantStatus[];
  error?: ErrorInfo | null;
  correct?: TenantCorrection;
  /** Starts a new 30-day period (retry of a claim). */
  renew?: boolean;
  event?: { type: TenantEvent["type"]; error?: ErrorInfo };
}

/** The port to claims and customer-name reservations. */
export interface ClaimStore {
  getClaim(tenantId: string, partnerId: string): Promise<StoredClaim | undefined>;
  /**
   * Writes a new open claim (`awaiting_consent`, with its first event). Replaces a claim of
   * that partner that is failed, offboarded (a former binding) or expired; ConflictError when
   * an open one exists.
   */
  putClaim(partnerId: string, request: OnboardingRequest, now: string): Promise<StoredClaim>;
  updateClaim(tenantId: string, partnerId: string, change: ClaimChange, now: string): Promise<StoredClaim>;
  deleteClaim(tenantId: string, partnerId: string): Promise<void>;
  /** Every claim record of the tenant (open or not). */
  listClaims(tenantId: string): Promise<StoredClaim[]>;
  /** Keeps a previous owner's record, `offboarded`, readable by that partner. */
  putFormerRecord(tenant: Tenant, now: string): Promise<void>;
  /**
   * Reserves `customerName` for a partner's bound tenant (at binding, never for a claim): true
   * when it is theirs (newly or already, also for the same tenant moving from another partner),
   * false when another partner's bound tenant holds it. A slug whose tenants were offboarded for
   * good, renamed, or whose records expired is free again.
   */
  reserveCustomerName(
    customerName: string,
    tenantId: string,
    partnerId: string,
    now: string,
  ): Promise<boolean>;
  /** The claim's history, a page at a time (InvalidCursorError for a cursor not issued). */
  pageClaimEvents(claim: StoredClaim, query: { limit: number; cursor?: string }): Page<TenantEvent>;
}

/** Whether an open claim's 30 days are over. */
export function claimExpired(claim: StoredClaim, now: Date): boolean {
  return (
    claim.tenant.status === "awaiting_consent" &&
    claim.expiresAt !== undefined &&
    Date.parse(claim.expiresAt) <= now.getTime()
  );
}

/** The claim as its partner sees it: an expired one is `failed` CONSENT_EXPIRED. */
export function claimView(claim: StoredClaim, now: Date): Tenant {
  if (!claimExpired(claim, now)) return claim.tenant;
  return { ...claim.tenant, status: "failed", error: CLAIM_EXPIRED };
}

/**
 * Reserves a bound tenant's customerName for its partner (never for a claim: a claim reserves
 * nothing and learns nothing); ConflictError when another partner's bound tenant holds it.
 * Without binding by consent (`claims` absent) nothing is reserved.
 */
export async function reserveCustomerName(
  claims: Pick<ClaimStore, "reserveCustomerName"> | undefined,
  customerName: string,
  bound: { tenantId: string; partnerId: string },
  now: string,
): Promise<void> {
  if (claims && !(await claims.reserveCustomerName(customerName, bound.tenantId, bound.partnerId, now))) {
    throw new ConflictError(
      `customerName ${customerName} is the account of another partner's customer tenant (${CUSTOMER_NAME_TAKEN.code}); choose another.`,
    );
  }
}

// ---- the signed state ------------------------------------------------------------------------

/** How long the sign-in stage's `state` is accepted: the admin signs in right after consenting. */
export const SIGN_IN_STATE_LIFETIME_MS = 10 * 60 * 1000;

export interface ConsentState {
  partnerId: string;
  tenantId: string;
  /** The admin's least-privilege choice, carried by the sign-in stage's state. @default "setup" */
  leastPrivilege?: LeastPrivilegeChoice;
  /**
   * What the link is for: `bind` (the partner's consentUrl of a tenant waiting for consent) or
   * `permissions` (the consentUrl of a tenant bound to the partner and waiting in
   * `awaiting_permissions`: the admin's sign-in sets up least privilege and never binds).
   * Inside the MAC, so one never passes for the other. @default "bind"
   */
  purpose?: ConsentPurpose;
}

export type ConsentPurpose = "bind" | "permissions";

/**
 * The two stages of a consent link. `consent`: the state of the partner's consentUrl, handed
 * back by Entra's admin consent redirect (whose query proves nothing: anyone can call the
 * callback with it). `sign-in`: the state of the sign-in that follows, carrying the nonce the
 * ID token must echo.
 */
export type ConsentStage = "consent" | "sign-in";

export type ConsentStateCheck =
  | ({
      ok: true;
      stage: ConsentStage;
      nonce: string;
      leastPrivilege: LeastPrivilegeChoice;
      purpose: ConsentPurpose;
    } & ConsentState)
  | { ok: false; reason: "malformed" | "signature" | "expired" };

/**
 * `state` = base64url(JSON {p, t, e, n, s?, l?, u?}) + "." + base64url(HMAC-SHA256); `e` is the
 * expiry in epoch seconds, `n` a random nonce, `s: "i"` marks the sign-in stage (minutes, not
 * days), `l: "s"` the admin's choice of the script, `u: "p"` the purpose `permissions`.
 * The stage is inside the MAC: a consent-stage state is never accepted as a sign-in one.
 * Verification is constant time on the MAC, then the expiry.
 */
export class ConsentStateSigner {
  readonly #key: Buffer;
  readonly #lifetimeMs: number;

  constructor(secret: string | Buffer, lifetimeMs = CONSENT_STATE_LIFETIME_MS) {
    this.#key = createHmac("sha256", secret).update("journal-onboarding consent state").digest();
    this.#lifetimeMs = lifetimeMs;
  }

  /** The state of a partner's consentUrl (days). */
  sign(state: ConsentState, now: Date): string {
    return this.#sign(state, now, "consent").state;
  }

  /** The state of the sign-in that follows the consent (minutes), and its nonce. */
  signSignIn(state: ConsentState, now: Date): { state: string; nonce: string } {
    return this.#sign(state, now, "sign-in");
  }

  #sign(state: ConsentState, now: Date, stage: ConsentStage): { state: string; nonce: string } {
    const lifetime =
      stage === "sign-in" ? Math.min(SIGN_IN_STATE_LIFETIME_MS, this.#lifetimeMs) : this.#lifetimeMs;
    const nonce = randomBytes(stage === "sign-in" ? 16 : 8).toString("base64url");
    const payload = Buffer.from(
      JSON.stringify({
        p: state.partnerId,
        t: state.tenantId,
        e: Math.floor((now.getTime() + lifetime) / 1000),
        n: nonce,
        ...(stage === "sign-in" && { s: "i" }),
        ...(state.leastPrivilege === "script" && { l: "s" }),
        ...(state.purpose === "permissions" && { u: "p" }),
      }),
    ).toString("base64url");
    return { state: `${payload}.${this.#mac(payload)}`, nonce };
  }

  verify(state: string | undefined, now: Date): ConsentStateCheck {
    if (!state || state.length > 1024 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(state)) {
      return { ok: false, reason: "malformed" };
    }
    const [payload = "", mac = ""] = state.split(".");
    const given = Buffer.from(mac, "base64url");
    const expected = Buffer.from(this.#mac(payload), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: "signature" };
    }
    let parsed: { p?: unknown; t?: unknown; e?: unknown; n?: unknown; s?: unknown; l?: unknown; u?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return { ok: false, reason: "malformed" };
    }
    if (
      typeof parsed.p !== "string" ||
      typeof parsed.t !== "string" ||
      typeof parsed.e !== "number" ||
      typeof parsed.n !== "string"
    ) {
      return { ok: false, reason: "malformed" };
    }
    if (parsed.e * 1000 <= now.getTime()) return { ok: false, reason: "expired" };
    return {
      ok: true,
      partnerId: parsed.p,
      tenantId: parsed.t,
      nonce: parsed.n,
      stage: parsed.s === "i" ? "sign-in" : "consent",
      leastPrivilege: parsed.l === "s" ? "script" : "setup",
      purpose: parsed.u === "p" ? "permissions" : "bind",
    };
  }

  #mac(payload: string): string {
    return createHmac("sha256", this.#key).update(payload).digest("base64url");
  }
}

// ---- the admin's sign-in ---------------------------------------------------------------------

/**
 * Directory roles (role template ids, as in the ID token's `wids`) whose holders can grant
 * tenant-wide admin consent to everything this app asks for. The app asks for a Microsoft
 * Graph application permission (Organization.Read.All), which only these two roles can grant:
 * Cloud Application Administrator (158c047a-c907-4556-b7ef-446551a6b5f7) and Application
 * Administrator (9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3) can consent to any permission except
 * Microsoft Graph application permissions, so they could not have given this consent and are
 * not accepted. A role eligible through PIM counts only once activated (`wids` lists active
 * roles).
 */
export const CONSENT_ADMIN_ROLES: Readonly<Record<string, string>> = {
  "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
  "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
};

/** The ID token claims the callback checks. */
export interface IdTokenClaims {
  tid?: unknown;
  aud?: unknown;
  nonce?: unknown;
  oid?: unknown;
  wids?: unknown;
}

export type RedeemResult =
  /**
   * `admin`: the admin's Exchange access for the least-privilege setup, when it was asked for
   * and granted (`exchangeDeclined` when asked for and not granted).
   */
  | { ok: true; claims: IdTokenClaims; admin?: AdminExchangeAccess; exchangeDeclined?: boolean }
  /** `error`: Entra's short error code (e.g. `invalid_grant`); `transient`: 429/5xx/network. */
  | { ok: false; error: string; transient: boolean };

/**
 * The port to Entra's sign-in (OpenID Connect authorization code flow) of the customer's admin,
 * in the tenant being bound: the authorize URL, and the server-side redemption of the code at
 * the tenant's token endpoint with the app's own credential.
 */
export interface AdminSignIn {
  /** The app's client id: the ID token's `aud`. */
  readonly clientId: string;
  /** `{authority}/{tenantId}/oauth2/v2.0/authorize?...` with `response_type=code`, `scope=openid profile`. */
  /** With `exchange`, the sign-in also asks for the delegated Exchange permission (least-privilege setup). */
  authorizeUrl(request: {
    tenantId: string;
    redirectUri: string;
    state: string;
    nonce: string;
    /** PKCE (S256). */
    codeChallenge?: string;
    exchange?: boolean;
  }): string;
  redeem(request: {
    tenantId: string;
    code: string;
    redirectUri: string;
    nonce: string;
    /** PKCE: the verifier of the authorize request's challenge. */
    codeVerifier?: string;
    exchange?: boolean;
  }): Promise<RedeemResult>;
}

/** Why a sign-in does not bind (each has its own page text). */
export type SignInRejection = "wrong-tenant" | "wrong-app" | "nonce" | "not-admin" | "no-roles";

/**
 * Checks the ID token of the sign-in against the sign-in state: the tenant (`tid`), our app
 * (`aud`), the nonce, and a directory role that can grant the app's consent (`wids`). Undefined
 * when it may bind.
 */
export function checkAdminClaims(
  claims: IdTokenClaims,
  expected: { tenantId: string; clientId: string; nonce: string },
): SignInRejection | undefined {
  if (typeof claims.aud !== "string" || claims.aud.toLowerCase() !== expected.clientId.toLowerCase()) {
    return "wrong-app";
  }
  if (typeof claims.nonce !== "string" || !safeEqual(claims.nonce, expected.nonce)) return "nonce";
  if (typeof claims.tid !== "string" || claims.tid.toLowerCase() !== expected.tenantId.toLowerCase()) {
    return "wrong-tenant";
  }
  if (!Array.isArray(claims.wids)) return "no-roles";
  if (
    !claims.wids.some((id) => typeof id === "string" && Object.hasOwn(CONSENT_ADMIN_ROLES, id.toLowerCase()))
  ) {
    return "not-admin";
  }
  return undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * What the service needs to issue consent links: the admin consent URL of a tenant (the
 * gateway's `{authority}/{tenant}/adminconsent?client_id=`), where Entra sends the admin back,
 * the state signer, and the admin's sign-in that proves the consent (without it, the callback
 * binds nothing).
 */
export interface ConsentLinks {
  signer: ConsentStateSigner;
  /** The admin consent URL without `state` and `redirect_uri`. */
  adminConsentUrl(tenantId: string): string;
  /** The callback's absolute URL (`M365_CONSENT_REDIRECT_URI` overrides the service's own). */
  redirectUri: string;
  signIn?: AdminSignIn;
  /** Ties the sign-in to the browser that saw the consent page (without it, nothing binds). */
  browser?: BrowserBinding;
}

/** The consent URL issued to a partner for a tenant: signed state and the callback. */
export function partnerConsentUrl(links: ConsentLinks, state: ConsentState, now: Date): string {
  const url = new URL(links.adminConsentUrl(state.tenantId));
  url.searchParams.set("redirect_uri", links.redirectUri);
  url.searchParams.set("state", links.signer.sign(state, now));
  return url.toString();
}
