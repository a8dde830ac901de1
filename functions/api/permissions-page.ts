/**
 * The consent callback's pages for a tenant's least-privilege link (its `consentUrl` while it
 * waits in `awaiting_permissions`, functions/domain/permissions-link.ts): the first page names
 * the provider and the tenant and offers the setup by the admin's sign-in (no choice to make: the
 * script is what the admin has already); then what the setup did, or that there is nothing to set
 * up. Static text, every value escaped, as the consent pages (consent-confirm.ts).
 */
import type { ConsentOutcome } from "../domain/consent-flow.ts";
import { SETUP_TEXT } from "../domain/least-privilege-consent.ts";
import type { PermissionsOutcome } from "../domain/permissions-link.ts";
import { escapeHtml, hiddenField } from "./consent-confirm.ts";

type Confirm = Extract<ConsentOutcome, { kind: "confirm" }>;

const STYLE =
  "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}dt{font-weight:bold}button{font:inherit;padding:.5rem 1.5rem}";

/** The first page: the Continue form (state and the page's token) goes on to the admin's sign-in. */
export function permissionsPageHtml(outcome: Confirm): string {
  const [partner, tenant] = [escapeHtml(outcome.partnerName), escapeHtml(outcome.tenantId)];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Set up the Exchange roles of ${partner}'s app</title>
<style>${STYLE}</style>
</head><body><main>
<h1>Set up least privilege for ${partner}'s app?</h1>
<p>Your tenant is connected to this provider, and its email journaling setup waits until the provider's app holds the Exchange roles it needs. Instead of running the PowerShell script, you can set them up here with your sign-in.</p>
<dl><dt>Provider</dt><dd>${partner}</dd><dt>Microsoft 365 tenant</dt><dd>${tenant}</dd></dl>
<p>Your sign-in will also ask to manage Exchange as you, once, so the service can give the provider's app a role group with only the Exchange roles it needs (never an administrator role); your access is not kept. The journaling setup then continues by itself.</p>
<p>If you do not know this provider, close this page: nothing is changed unless you continue and sign in.</p>
<form method="get" action="${escapeHtml(outcome.callbackUrl)}">
${hiddenField("state", outcome.state)}
${hiddenField("continue", outcome.pageToken)}
<p>After Continue, sign in with a Global Administrator or Privileged Role Administrator account of this tenant that may manage Exchange (an Exchange Administrator or Global Administrator).</p>
<button type="submit">Continue</button>
</form>
</main></body></html>
`;
}

const AGAIN =
  "You can open your provider's link again later to retry with your sign-in (ask it for a new link if this one has expired).";

/** The page after the sign-in, or for a link with nothing to set up. */
export function describePermissions(outcome: PermissionsOutcome): {
  status: number;
  title: string;
  text: string[];
} {
  if (outcome.kind === "permissions-not-needed") {
    return {
      status: 200,
      title: "Nothing to set up",
      text: [
        "This link is no longer needed, or not valid for this tenant; nothing was changed.",
        "If your provider still asks you to set up its app's Exchange roles, ask it for a new link.",
      ],
    };
  }
  if (outcome.setup === "done") {
    return {
      status: 200,
      title: "Least privilege set up",
      text: [
        SETUP_TEXT.done,
        `The journaling setup of tenant ${outcome.tenantId} continues now. You can close this page.`,
      ],
    };
  }
  return {
    status: 200,
    title: "Least privilege is not set up yet",
    text: [SETUP_TEXT[outcome.setup], AGAIN],
  };
}
