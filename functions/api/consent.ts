/**
 * The HTTP side of binding by consent: the consent links the API issues (signed state,
 * redirect to `GET /v1/consent/callback`) and the small page the callback shows the customer's
 * admin. The page is static text: every value in it is escaped, and its Content-Security-Policy
 * allows nothing to load or run.
 */
import { type ConsentLinks, ConsentStateSigner } from "../domain/binding.ts";
import type { ConsentOutcome } from "../domain/onboarding.ts";

export const CONSENT_CALLBACK_PATH = "/v1/consent/callback";

/**
 * Consent links from the gateway's admin consent URL, a secret (the state's HMAC key) and the
 * callback URL; `redirectUri` may be a function (the service's own URL, known once it listens).
 */
export function createConsentLinks(options: {
  secret: string | Buffer;
  adminConsentUrl: (tenantId: string) => string;
  redirectUri: string | (() => string);
}): ConsentLinks {
  const signer = new ConsentStateSigner(options.secret);
  const redirect = options.redirectUri;
  return {
    signer,
    adminConsentUrl: options.adminConsentUrl,
    get redirectUri() {
      return typeof redirect === "function" ? redirect() : redirect;
    },
  };
}

/** Headers of the page: nothing may load, run, frame it or be cached. */
export const CONSENT_PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** The page for an outcome: status, title and text. */
export function consentPage(outcome: ConsentOutcome): { status: number; html: string } {
  const { status, title, text } = describe(outcome);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body><h1>${escapeHtml(title)}</h1>${text.map((p) => `<p>${escapeHtml(p)}</p>`).join("")}</body></html>
`;
  return { status, html };
}

function describe(outcome: ConsentOutcome): { status: number; title: string; text: string[] } {
  const newLink = "Ask your provider for a new consent link.";
  switch (outcome.kind) {
    case "bound":
      return {
        status: 200,
        title: "Consent received",
        text: [
          `Tenant ${outcome.tenantId} is now connected to the provider who sent you this link; the journaling setup has started.`,
          "You can close this page.",
        ],
      };
    case "already-bound":
      return {
        status: 200,
        title: "Consent received",
        text: [
          `Tenant ${outcome.tenantId} is already connected to this provider.`,
          "You can close this page.",
        ],
      };
    case "declined":
      return {
        status: 400,
        title: "Consent was not granted",
        text: [
          `Microsoft Entra answered: ${outcome.error.slice(0, 100)}${outcome.description ? ` (${outcome.description.slice(0, 500)})` : ""}.`,
          "Nothing was connected. You can open the consent link again to retry.",
        ],
      };
    case "invalid-state":
      return {
        status: 400,
        title: "This consent link is not valid",
        text: ["The link has expired or was altered; nothing was connected.", newLink],
      };
    case "tenant-mismatch":
      return {
        status: 400,
        title: "Consent was given for another tenant",
        text: [
          "The consent link was issued for a different Microsoft 365 tenant than the one you signed in to; nothing was connected.",
          "Sign in with an administrator of the tenant named in the link, or ask your provider for a new link.",
        ],
      };
    case "link-not-valid":
      return {
        status: 400,
        title: "This consent link is no longer valid",
        text: ["Nothing was connected.", newLink],
      };
  }
}
