/**
 * The consent callback's first page: it names the partner and the tenant and asks the customer's
 * admin to continue, and gives the browser its id (the cookie the sign-in is bound to). Plain
 * HTML, no script; the form is a GET to the callback (the Continue leg), whose answer redirects
 * to Entra's sign-in: the page's Content-Security-Policy allows exactly those two form targets.
 * The form carries the admin's least-privilege choice (least-privilege-choice.ts).
 */

import { BROWSER_ID_LIFETIME_S } from "../domain/consent-browser.ts";
import type { ConsentOutcome } from "../domain/consent-flow.ts";
import { leastPrivilegeFieldset } from "./least-privilege-choice.ts";

/** The cookie that carries the browser's id; only the callback ever receives it. */
export const BROWSER_COOKIE = "consent_browser";

type Confirm = Extract<ConsentOutcome, { kind: "confirm" }>;

export const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** The browser id from a `Cookie` header (the first `consent_browser` pair), if any. */
export function browserIdFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0 && pair.slice(0, at).trim() === BROWSER_COOKIE) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * `Set-Cookie` for the browser id: HttpOnly; SameSite=Lax (sent back on the top-level redirect
 * from Entra's sign-in, a cross-site GET; Strict would not be); Path limited to the callback;
 * Secure unless the callback is plain http (loopback only).
 */
export function browserCookie(browserId: string, callbackUrl: string): string {
  const url = new URL(callbackUrl);
  const secure = url.protocol === "https:" ? "; Secure" : "";
  return `${BROWSER_COOKIE}=${browserId}; Path=${url.pathname}; Max-Age=${BROWSER_ID_LIFETIME_S}; HttpOnly; SameSite=Lax${secure}`;
}

/** The page's Content-Security-Policy: nothing loads or runs; the form may go to the callback and on to the sign-in. */
export function confirmPagePolicy(outcome: Confirm): string {
  const targets = ["'self'", new URL(outcome.callbackUrl).origin, outcome.signInOrigin].filter(Boolean);
  return `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action ${[...new Set(targets)].join(" ")}; frame-ancestors 'none'`;
}

/** A hidden field of the Continue form, its value escaped. */
export const hiddenField = (name: string, value: string) =>
  `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

export function confirmPageHtml(outcome: Confirm): string {
  const partner = escapeHtml(outcome.partnerName);
  const tenant = escapeHtml(outcome.tenantId);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect your tenant to ${partner}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}dt{font-weight:bold}button{font:inherit;padding:.5rem 1.5rem}fieldset{margin:1rem 0;padding:.5rem 1rem}.choice{margin:.5rem 0}.choice p{margin:.25rem 0 0 1.75rem;color:#444}</style>
</head><body><main>
<h1>Connect your tenant to ${partner}?</h1>
<p>You granted consent to the email journaling service. Continue to connect this tenant to the provider below; it will then set up journaling in your tenant.</p>
<dl><dt>Provider</dt><dd>${partner}</dd><dt>Microsoft 365 tenant</dt><dd>${tenant}</dd></dl>
<p>If you do not know this provider or did not ask it to set up journaling, close this page: nothing is connected unless you continue and sign in.</p>
<form method="get" action="${escapeHtml(outcome.callbackUrl)}">
${hiddenField("state", outcome.state)}
${hiddenField("continue", outcome.pageToken)}
${leastPrivilegeFieldset()}
<p>After Continue, sign in with a Global Administrator or Privileged Role Administrator account of this tenant.</p>
<button type="submit">Continue</button>
</form>
</main></body></html>
`;
}
