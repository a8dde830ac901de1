/**
 * The HTTP side of binding by consent: the consent links the API issues (signed state,
 * redirect to `GET /v1/consent/callback`), the redirect to the admin's sign-in, and the small
 * page the callback shows the customer's admin. The page is static text: every value in it is
 * escaped, Entra's own text is never shown (only a short error code), and its
 * Content-Security-Policy allows nothing to load or run.
 */
import { type AdminSignIn, type ConsentLinks, ConsentStateSigner } from "../domain/binding.ts";
import { BrowserBinding, type SignInStates } from "../domain/consent-browser.ts";
import type { ConsentOutcome } from "../domain/consent-flow.ts";
import { SETUP_TEXT } from "../domain/least-privilege-consent.ts";
import { browserCookie, confirmPageHtml, confirmPagePolicy, escapeHtml } from "./consent-confirm.ts";
import { describePermissions, permissionsPageHtml } from "./permissions-page.ts";

export const CONSENT_CALLBACK_PATH = "/v1/consent/callback";

/**
 * Consent links from the gateway's admin consent URL, a secret (the state's HMAC key), the
 * callback URL, the admin's sign-in and the records of sign-in states; `redirectUri` may be a
 * function (the service's own URL, known once it listens). Without `signIn` and `signIns` the
 * callback binds nothing.
 */
export function createConsentLinks(options: {
  secret: string | Buffer;
  adminConsentUrl: (tenantId: string) => string;
  redirectUri: string | (() => string);
  signIn?: AdminSignIn;
  signIns?: SignInStates;
}): ConsentLinks {
  const signer = new ConsentStateSigner(options.secret);
  const redirect = options.redirectUri;
  return {
    signer,
    adminConsentUrl: options.adminConsentUrl,
    ...(options.signIn && { signIn: options.signIn }),
    ...(options.signIns && { browser: new BrowserBinding(options.secret, options.signIns) }),
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

/** What the callback answers: a redirect to the admin's sign-in, or the page for the outcome. */
export function consentResponse(outcome: ConsentOutcome): {
  status: number;
  text: string;
  headers: Record<string, string>;
} {
  if (outcome.kind === "confirm") {
    return {
      status: 200,
      text: outcome.purpose === "permissions" ? permissionsPageHtml(outcome) : confirmPageHtml(outcome),
      headers: {
        ...CONSENT_PAGE_HEADERS,
        "content-security-policy": confirmPagePolicy(outcome),
        "cache-control": "no-store",
        "set-cookie": browserCookie(outcome.browserId, outcome.callbackUrl),
      },
    };
  }
  if (outcome.kind === "sign-in") {
    return {
      status: 302,
      text: "",
      headers: { location: outcome.location, "cache-control": "no-store", "referrer-policy": "no-referrer" },
    };
  }
  const page = consentPage(outcome);
  return {
    status: page.status,
    text: page.html,
    headers: { ...CONSENT_PAGE_HEADERS, "cache-control": "no-store" },
  };
}

/** The page for an outcome: status, title and text. */
export function consentPage(outcome: Page): {
  status: number;
  html: string;
} {
  const { status, title, text } = describe(outcome);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body><h1>${escapeHtml(title)}</h1>${text.map((p) => `<p>${escapeHtml(p)}</p>`).join("")}</body></html>
`;
  return { status, html };
}

const ADMIN_ROLES_TEXT = "a Global Administrator or Privileged Role Administrator";

type Page = Exclude<ConsentOutcome, { kind: "sign-in" | "confirm" }>;

function describe(outcome: Page): {
  status: number;
  title: string;
  text: string[];
} {
  const newLink = "Ask your provider for a new consent link.";
  const retry = "Nothing was connected. Open the consent link from your provider again to retry.";
  switch (outcome.kind) {
    case "permissions-set":
    case "permissions-not-needed":
      return describePermissions(outcome);
    case "bound":
      return {
        status: 200,
        title: "Consent received",
        text: [
          `Tenant ${outcome.tenantId} is now connected to the provider who sent you this link; the journaling setup has started.`,
          ...(outcome.setup ? [SETUP_TEXT[outcome.setup]] : []),
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
      return outcome.stage === "sign-in"
        ? {
            status: 400,
            title: "Sign-in was not completed",
            text: [
              `Microsoft Entra answered with error code ${outcome.error}.`,
              `After consenting, sign in with ${ADMIN_ROLES_TEXT} account of your tenant to confirm the consent. ${retry}`,
            ],
          }
        : {
            status: 400,
            title: "Consent was not granted",
            text: [`Microsoft Entra answered with error code ${outcome.error}.`, retry],
          };
    case "invalid-state":
      return {
        status: 400,
        title: "This consent link is not valid",
        text: [
          "The link has expired or was altered; nothing was connected. The sign-in after the consent must be completed within 10 minutes.",
          newLink,
        ],
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
    case "not-this-browser":
      return {
        status: 403,
        title: "This sign-in was not started in this browser",
        text: [
          "The sign-in answer belongs to a consent page opened in another browser, or was used already; nothing was connected.",
          "Open the consent link from your provider again, continue on its page and sign in in the same browser.",
        ],
      };
    case "sign-in-unavailable":
      return {
        status: 503,
        title: "The sign-in could not be checked",
        text: [
          "Microsoft Entra could not be reached to confirm your sign-in; nothing was connected.",
          `${retry} If this persists, contact your provider.`,
        ],
      };
    case "sign-in-rejected":
      return {
        status: 403,
        title: "Your sign-in did not confirm the consent",
        text: [...rejected(outcome), retry],
      };
  }
}

function rejected(outcome: Extract<ConsentOutcome, { kind: "sign-in-rejected" }>): string[] {
  const tenant = outcome.tenantId;
  switch (outcome.reason) {
    case "not-admin":
      return [
        `The account you signed in with does not hold a directory role that can grant this consent in tenant ${tenant}.`,
        `Sign in with ${ADMIN_ROLES_TEXT} account of that tenant (a role eligible through Privileged Identity Management must be activated first).`,
      ];
    case "no-roles":
      return [
        "The sign-in did not tell which directory roles your account holds, so the consent could not be confirmed.",
        "Your provider's application must include directory roles in its tokens: please tell your provider.",
      ];
    case "wrong-tenant":
      return [
        `You signed in to another tenant than ${tenant}.`,
        `Sign in with ${ADMIN_ROLES_TEXT} account of tenant ${tenant} (use "Use another account" if you are offered one).`,
      ];
    case "code-rejected":
    case "no-code":
    case "nonce":
    case "wrong-app":
      return [
        "The sign-in answer was not valid for this link (it may have been used already or have expired).",
      ];
  }
}
