// Where things land on the page: a tenant opened from the list is brought into view (on a phone
// the detail sits under the whole list), and the header names the kind of console in use.

/** Scrolls `node` to the top of the viewport unless its top is already on screen. */
export function reveal(node) {
  const top = node.getBoundingClientRect().top;
  if (top >= 0 && top < window.innerHeight * 0.6) return;
  node.scrollIntoView({ block: "start" });
}

/** `ops console` or `partner console` in the header and the tab's title. */
export function nameConsole(role) {
  const label = role === "ops" ? "ops console" : "partner console";
  document.getElementById("console-kind").textContent = label;
  document.title = `Journal onboarding · ${label}`;
}

/**
 * Shows or hides the tenant panel, and marks the layout (`detail-open`) so that the list makes
 * room for it: a class set here, not a `:has()` rule the browser must re-evaluate on its own.
 */
export function showDetail(open) {
  const panel = document.getElementById("tenant-detail");
  panel.hidden = !open;
  panel.parentElement.classList.toggle("detail-open", open);
}
