/**
 * Binding the consent's sign-in to the browser that saw the consent page. The callback's first
 * page (naming the partner and the tenant) gives the browser a random id in a cookie; its
 * Continue form carries a page token derived from that id, and the sign-in it starts has a
 * single-use state recorded for that id alone. A link forwarded by someone else (the first
 * page's, the Continue one's or the sign-in's) therefore cannot complete a binding in another
 * browser: without the cookie the admin sees the page again, with the partner's name.
 *
 * The sign-in's code is redeemed with PKCE (RFC 7636, S256): its verifier is derived from the
 * browser id and the sign-in nonce, so nothing but the record of the state is stored.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** How long the browser's id is kept (a consent page open that long can still continue). */
export const BROWSER_ID_LIFETIME_S = 3600;

/** A sign-in state's record: which browser (hash of its id) may use it, for which partner and tenant. */
export interface SignInRecord {
  browser: string;
  partnerId: string;
  tenantId: string;
}

/** The port to the records of sign-in states (single use: a conditional write). */
export interface SignInStates {
  /** Records a sign-in state's nonce for a browser until `expiresAt`. */
  issue(nonce: string, record: SignInRecord, expiresAt: Date): Promise<void>;
  /**
   * Uses it up: true only once, for the same browser, partner and tenant, before it expires;
   * false for anything else (used, unknown, expired, another browser).
   */
  consume(nonce: string, record: SignInRecord, now: Date): Promise<boolean>;
}

const BROWSER_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * The browser binding's keys (derived from the consent state's secret) and the records of
 * sign-in states.
 *
 * @example
 * const browser = new BrowserBinding(secret, states);
 * const id = browser.newId();
 * const token = browser.pageToken(id, consentState); // in the Continue form
 * browser.checkPageToken(id, consentState, token); // true
 */
export class BrowserBinding {
  readonly states: SignInStates;
  readonly #key: Buffer;

  constructor(secret: string | Buffer, states: SignInStates) {
    this.#key = createHmac("sha256", secret).update("journal-onboarding consent browser").digest();
    this.states = states;
  }

  /** A new browser id (256 random bits, base64url). */
  newId(): string {
    return randomBytes(32).toString("base64url");
  }

  /** Whether a cookie value has the shape of a browser id. */
  isId(value: string | undefined): value is string {
    return value !== undefined && BROWSER_ID.test(value);
  }

  /** The Continue form's token: ties the page's consent state to the browser that got the page. */
  pageToken(browserId: string, consentState: string): string {
    return this.#mac("page", browserId, consentState);
  }

  checkPageToken(browserId: string, consentState: string, token: string | undefined): boolean {
    if (!token) return false;
    const given = Buffer.from(token);
    const expected = Buffer.from(this.pageToken(browserId, consentState));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** What a sign-in state's record holds of the browser: never the id itself. */
  hash(browserId: string): string {
    return createHash("sha256").update(browserId).digest("base64url");
  }

  /** The PKCE code verifier of a sign-in (43 base64url characters). */
  codeVerifier(browserId: string, nonce: string): string {
    return this.#mac("pkce", browserId, nonce);
  }

  #mac(purpose: string, ...parts: string[]): string {
    return createHmac("sha256", this.#key)
      .update([purpose, ...parts].join("\0"))
      .digest("base64url");
  }
}

/** The S256 code challenge of a verifier (RFC 7636 4.2). */
export function codeChallenge(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}
