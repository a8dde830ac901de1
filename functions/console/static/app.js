// The ops console: a plain browser module, no build step, no framework. Everything it shows
// comes from the REST API and is put on the page with textContent, never parsed as HTML.
// The API key lives in sessionStorage (this tab only) and is sent only to this origin's API.
// One module per view under js/; this one signs in and out and wires the page.

import {
  $,
  ApiError,
  api,
  FLEET_REFRESH_MS,
  hooks,
  KEY_STORAGE,
  REFRESH_MS,
  show,
  state,
} from "./js/core.js";
import { loadDeliveries, replayAllFailed, replaySelected, selectFailed } from "./js/deliveries.js";
import { chartWidth, loadFleet } from "./js/fleet.js";
import { nameConsole, showDetail } from "./js/layout.js";
import {
  approveTenant,
  checkDrift,
  closeTenant,
  loadTenant,
  loadTenants,
  offboardTenant,
  retryTenant,
} from "./js/tenants.js";

// ---- session --------------------------------------------------------------------------------

function signIn(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
  $("api-key").value = "";
  show($("key-section"), false);
  show($("app"), true);
  show($("forget-key"), true);
  $("session-label").textContent = "Key in use (this tab only)";
  state.tenants = { cursors: [undefined], index: 0, next: undefined };
  state.deliveries = { cursors: [undefined], index: 0, next: undefined };
  state.fleetLoadedAt = 0;
  detectRole();
  refreshAll();
  schedule();
}

/** Ops or partner, from `GET /v1/me` (any key may read it; nothing is refused). */
async function detectRole() {
  try {
    const me = await api("GET", "v1/me");
    setRole(me?.role === "ops" ? "ops" : "partner");
  } catch {
    show($("key-role"), false);
  }
}

function setRole(role) {
  const badge = $("key-role");
  badge.textContent = role === "ops" ? "ops key" : "partner key";
  badge.dataset.role = role;
  badge.title =
    role === "ops"
      ? "Sees every partner's tenants and deliveries"
      : "Sees this partner's tenants and deliveries only";
  show(badge, true);
  nameConsole(role);
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  clearInterval(state.timer);
  state.timer = undefined;
  state.selected = undefined;
  show($("app"), false);
  showDetail(false);
  show($("forget-key"), false);
  show($("key-role"), false);
  show($("key-section"), true);
  $("session-label").textContent = "";
  $("key-error").textContent = message ?? "";
  $("api-key").value = "";
  $("api-key").focus();
}

async function submitKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  $("key-error").textContent = "";
  sessionStorage.setItem(KEY_STORAGE, key);
  try {
    // Checks the key before showing anything.
    await api("GET", "v1/tenants", { limit: 1 });
    signIn(key);
  } catch (err) {
    sessionStorage.removeItem(KEY_STORAGE);
    $("key-error").textContent =
      err instanceof ApiError && err.status === 401
        ? "That key was refused."
        : `Cannot use the key: ${err.message}`;
  }
}

// ---- refresh and wiring ---------------------------------------------------------------------

async function refreshAll() {
  if (state.refreshing) return;
  state.refreshing = true;
  try {
    const fleetDue = Date.now() - state.fleetLoadedAt >= FLEET_REFRESH_MS;
    await Promise.all([
      loadTenants(),
      loadTenant(),
      state.replaying ? undefined : loadDeliveries(),
      fleetDue ? loadFleet() : undefined,
    ]);
  } finally {
    state.refreshing = false;
  }
}

function schedule() {
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    if ($("auto-refresh").checked && !document.hidden && sessionStorage.getItem(KEY_STORAGE)) refreshAll();
  }, REFRESH_MS);
}

function pager(which, load) {
  $(`${which}-prev`).addEventListener("click", () => {
    const p = state[which];
    if (p.index > 0) p.index -= 1;
    load();
  });
  $(`${which}-next`).addEventListener("click", () => {
    const p = state[which];
    if (!p.next) return;
    p.cursors[p.index + 1] = p.next;
    p.index += 1;
    load();
  });
}

function resetTenantPaging() {
  state.tenants = { cursors: [undefined], index: 0, next: undefined };
  loadTenants();
}

function start() {
  hooks.refreshAll = refreshAll;
  hooks.signOut = signOut;
  $("key-form").addEventListener("submit", submitKey);
  $("forget-key").addEventListener("click", () => signOut("Key forgotten."));
  $("status-filter").addEventListener("change", resetTenantPaging);
  $("page-size").addEventListener("change", resetTenantPaging);
  $("refresh-tenants").addEventListener("click", () => refreshAll());
  $("refresh-deliveries").addEventListener("click", () => loadDeliveries());
  $("refresh-fleet").addEventListener("click", () => loadFleet());
  $("select-failed").addEventListener("change", selectFailed);
  $("replay-selected").addEventListener("click", replaySelected);
  $("replay-all-failed").addEventListener("click", replayAllFailed);
  window.addEventListener("resize", () => state.chart?.setSize({ width: chartWidth(), height: 200 }));
  $("retry-tenant").addEventListener("click", retryTenant);
  $("offboard-tenant").addEventListener("click", offboardTenant);
  $("approve-tenant").addEventListener("click", approveTenant);
  $("check-drift").addEventListener("click", checkDrift);
  $("drift-filter").addEventListener("change", resetTenantPaging);
  $("close-detail").addEventListener("click", closeTenant);
  pager("tenants", loadTenants);
  pager("deliveries", loadDeliveries);

  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) signIn(key);
  else signOut();
}

start();
