// The session: signing in with a key (checked before anything is shown), out, and the
// refresh of every view while signed in.

import {
  $,
  ApiError,
  api,
  FLEET_REFRESH_MS,
  forgetLoads,
  KEY_STORAGE,
  REFRESH_MS,
  show,
  state,
} from "./core.js";
import { loadDeliveries } from "./deliveries.js";
import { loadFleet } from "./fleet.js";
import { nameConsole, showDetail } from "./layout.js";
import { loadTenant, loadTenants } from "./tenants.js";

export function signIn(key) {
  forgetLoads();
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

export function signOut(message) {
  forgetLoads();
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

export async function submitKey(event) {
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

// ---- refresh -------------------------------------------------------------------------------

export async function refreshAll() {
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
