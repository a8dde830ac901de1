/**
 * The consent page's least-privilege choice: two radio buttons inside the Continue form, the
 * first (the setup by the admin's sign-in) checked. Continue sends it as `least_privilege`; the
 * callback reads it only with the page's token, and carries it in the signed, browser-bound
 * sign-in state from there (functions/domain/consent-flow.ts).
 */
import type { LeastPrivilegeChoice } from "../domain/least-privilege-consent.ts";

/** The form field's name (the callback's query parameter on Continue). */
export const LEAST_PRIVILEGE_FIELD = "least_privilege";

/** Each option: its label and the one sentence saying what it means for the admin. */
export const LEAST_PRIVILEGE_OPTIONS: readonly {
  value: LeastPrivilegeChoice;
  label: string;
  help: string;
}[] = [
  {
    value: "setup",
    label: "Set up least privilege for me (recommended)",
    help: "Your sign-in will also ask to manage Exchange as you, once, so the service can give the provider's app a role group with only the Exchange roles it needs (never an administrator role); your access is not kept.",
  },
  {
    value: "script",
    label: "I will run the permissions script",
    help: "Your sign-in only confirms this connection; your provider will send you a short PowerShell script that you run once to give the app those roles.",
  },
];

/** The fieldset of the choice (static text only: nothing in it comes from a request). */
export function leastPrivilegeFieldset(): string {
  const options = LEAST_PRIVILEGE_OPTIONS.map((option, index) => {
    const id = `least-privilege-${option.value}`;
    const checked = index === 0 ? " checked" : "";
    return `<div class="choice"><input type="radio" id="${id}" name="${LEAST_PRIVILEGE_FIELD}" value="${option.value}" aria-describedby="${id}-help"${checked}>
<label for="${id}">${option.label}</label>
<p id="${id}-help">${option.help}</p></div>`;
  });
  return `<fieldset>
<legend>The provider's app in Exchange Online</legend>
${options.join("\n")}
</fieldset>`;
}
