// The ops console: a plain browser module, no build step, no framework. Everything it shows
// comes from the REST API and is put on the page with textContent, never parsed as HTML.
// The API key lives in sessionStorage (this tab only) and is sent only to this origin's API.
// The entry: one module per view under js/ (session, tenants, deliveries, fleet); this one
// only wires the page to them.

import { $, hooks, KEY_STORAGE, state } from "./js/core.js";
import { loadDeliveries, replayAllFailed, replaySelected, selectFailed } from "./js/deliveries.js";
import { chartWidth, loadFleet } from "./js/fleet.js";
import { refreshAll, signIn, signOut, submitKey } from "./js/session.js";
import {
  approveTenant,
  checkDrift,
  closeTenant,
  loadTenants,
  offboardTenant,
  retryTenant,
} from "./js/tenants.js";

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
  $("refresh-fleet").addEventListener("click", () => loadFleet({ again: true }));
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
