/** The route the customer's admin reaches from Entra's admin consent and sign-in. */

import { CONSENT_CALLBACK_PATH, consentResponse } from "../consent.ts";
import { browserIdFromCookie } from "../consent-confirm.ts";
import { defineRoute, type Route } from "../router.ts";
import { ConsentCallbackQuery } from "../schemas.ts";

export const consentRoutes: readonly Route[] = [
  defineRoute({
    operationId: "consentCallback",
    method: "GET",
    path: CONSENT_CALLBACK_PATH,
    tag: "tenants",
    summary: "Where Entra's admin consent sends the customer's admin back",
    description:
      "Opened by the customer admin's browser, not by partners, three times. After admin consent (`?admin_consent=True&tenant=&state=`, which Entra does not authenticate) it verifies the signed `state` (partner and tenant) and that `tenant` is the one named in it, binds nothing, and shows a page naming the partner and the tenant with a Continue button and the admin's least-privilege choice (`setup`, the default, or `script`); the page sets a cookie (HttpOnly, SameSite=Lax, Secure over https, limited to this path) that identifies the browser. Continue (`?state=&continue=&least_privilege=`, the page's token, valid only with that browser's cookie) redirects (302) to Entra's sign-in of that tenant with a new signed state carrying the choice, valid for 10 minutes, usable once and only by that browser, and a PKCE challenge; without the matching cookie the page is shown again (`least_privilege` is read on Continue only). After the sign-in (`?code=&state=`, with the cookie) it uses up the state, redeems the code with the app's own credential and binds the tenant to the partner only when the ID token is of that tenant, for this app, with the sign-in's nonce, and of a Global Administrator or Privileged Role Administrator; then onboarding starts. With the choice `setup` the sign-in also asks for the delegated `Exchange.Manage`, and the service uses it once, in that request, to give the app its least-privilege Exchange role group as that admin (audit trail entries with `actor: customer-admin`; the token is never stored); when that is not possible the tenant later waits in `awaiting_permissions` with the permissions script. `error=` or any failed check binds nothing. The `consentUrl` of a tenant in `awaiting_permissions` (`?state=` only) goes through the same legs with no consent: its page offers the least-privilege setup, and the sign-in sets it up as the admin and retries the tenant, never binding; for a tenant no longer waiting or not bound to the link's partner it shows that there is nothing to set up. Every answer but the redirect is a small HTML page saying what happened.",
    access: "public",
    query: ConsentCallbackQuery,
    responses: {
      200: {
        description:
          "The page naming the partner and the tenant, with Continue (sets the browser's cookie); or, after the sign-in, consent received: the tenant is bound.",
        contentType: "text/html",
      },
      302: {
        description: "Continue: on to the admin's sign-in (`Location`: Entra's authorize endpoint).",
        headers: { Location: "Entra's authorize URL of the tenant" },
      },
      400: {
        description: "Nothing was bound (declined, invalid or expired link).",
        contentType: "text/html",
      },
      403: {
        description:
          "Nothing was bound: the sign-in did not confirm the consent (another tenant, not an admin, a used code or state, another browser).",
        contentType: "text/html",
      },
      503: {
        description: "Nothing was bound: Entra could not be reached to redeem the sign-in.",
        contentType: "text/html",
      },
    },
    handle: async ({ query, headers, services }) => {
      const browser = browserIdFromCookie(headers["cookie"]);
      const outcome = await services.onboarding.consentCallback({
        ...(browser !== undefined && { browser }),
        ...(query.continue !== undefined && { continueToken: query.continue }),
        ...(query.state !== undefined && { state: query.state }),
        ...(query.tenant !== undefined && { tenant: query.tenant }),
        ...(query.admin_consent !== undefined && { adminConsent: query.admin_consent }),
        ...(query.code !== undefined && { code: query.code }),
        ...(query.error !== undefined && { error: query.error }),
        ...(query.error_description !== undefined && { errorDescription: query.error_description }),
        ...(query.least_privilege !== undefined && { leastPrivilege: query.least_privilege }),
      });
      return consentResponse(outcome);
    },
  }),
];
