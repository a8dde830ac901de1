// The ops console: a plain browser module, no build step, no framework. Everything it shows
// comes from the REST API and is put on the page with textContent, never parsed as HTML.
// The API key lives in sessionStorage (this tab only) and is sent only to this origin's API.

const KEY_STORAGE = "journal-onboarding.apiKey";
/** The API is where the console is, minus `console`: `/` locally, `/prod/` behind API Gateway. */
const API_BASE = new URL(".", window.location.href);
const REFRESH_MS = 2000;
const STATUSES = [
  "queued",
  "running",
  "awaiting_consent",
  "succeeded",
  "failed",
  "offboarding",
  "offboarded",
  "offboarding_failed",
];
const STEP_STATUSES = ["pending", "running", "succeeded", "failed", "skipped"];
const RETRYABLE = ["failed", "awaiting_consent"];
const OFFBOARDABLE = ["succeeded", "failed", "awaiting_consent", "offboarding_failed"];

const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
};

const state = {
  tenants: { cursors: [undefined], index: 0, next: undefined },
  deliveries: { cursors: [undefined], index: 0, next: undefined },
  selected: undefined,
  timer: undefined,
  refreshing: false,
};

class ApiError extends Error {
  constructor(status, problem) {
    const title = problem?.title || `HTTP ${status}`;
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem;
  }
}

// ---- API ------------------------------------------------------------------------------------

async function api(method, path, query) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) throw new ApiError(401, { title: "No API key" });
  const url = new URL(path, API_BASE);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== "") url.searchParams.set(name, String(value));
  }
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
  });
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    if (response.status === 401) signOut("The API refused the key (401). Enter a valid key.");
    throw new ApiError(response.status, body);
  }
  return body;
}

// ---- rendering helpers ----------------------------------------------------------------------

/** Builds an element; `text` is set as textContent, children are appended as nodes. */
function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  if (options.title) node.title = String(options.title);
  for (const [name, value] of Object.entries(options.data ?? {})) node.dataset[name] = String(value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function statusBadge(status, known) {
  const safe = known.includes(status) ? status : "unknown";
  return el("span", { className: `badge status-${safe}`, text: status });
}

function utc(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

function duration(from, to) {
  if (!from || !to) return "";
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

function errorText(error) {
  return error ? `${error.code}: ${error.message}` : "";
}

function show(node, visible) {
  node.hidden = !visible;
}

let noticeTimer;
function notice(message, kind = "info") {
  const node = $("notice");
  node.textContent = message;
  node.className = `notice notice-${kind === "error" ? "error" : "info"}`;
  show(node, true);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => show(node, false), kind === "error" ? 10000 : 5000);
}

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
  refreshAll();
  schedule();
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  clearInterval(state.timer);
  state.timer = undefined;
  state.selected = undefined;
  show($("app"), false);
  show($("tenant-detail"), false);
  show($("forget-key"), false);
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

// ---- tenants --------------------------------------------------------------------------------

async function loadTenants() {
  const t = state.tenants;
  try {
    const page = await api("GET", "v1/tenants", {
      status: $("status-filter").value,
      limit: $("page-size").value,
      cursor: t.cursors[t.index],
    });
    t.next = page.nextCursor;
    renderTenants(page.items);
    show($("tenants-error"), false);
  } catch (err) {
    $("tenants-error").textContent = err.message;
    show($("tenants-error"), true);
  }
  $("tenants-prev").disabled = t.index === 0;
  $("tenants-next").disabled = !t.next;
  $("tenants-page").textContent = `Page ${t.index + 1}`;
}

function renderTenants(items) {
  const rows = items.map((tenant) => {
    const open = el("button", { className: "link mono", text: tenant.tenantId, title: "Show steps" });
    open.type = "button";
    open.addEventListener("click", () => selectTenant(tenant.tenantId));
    const row = el("tr", { data: { tenantId: tenant.tenantId } }, [
      el("td", {}, [open]),
      el("td", { text: tenant.customerName }),
      el("td", { text: tenant.region }),
      el("td", {}, [statusBadge(tenant.status, STATUSES)]),
      el("td", { className: "mono col-secondary", text: tenant.partnerId }),
      el("td", { text: utc(tenant.updatedAt), title: tenant.updatedAt }),
      el("td", { className: "col-secondary", text: tenant.error?.code ?? "", title: tenant.error?.message }),
    ]);
    if (tenant.tenantId === state.selected) row.className = "selected";
    return row;
  });
  $("tenants-table").tBodies[0].replaceChildren(...rows);
  show($("tenants-empty"), items.length === 0);
}

async function selectTenant(tenantId) {
  state.selected = tenantId;
  for (const row of $("tenants-table").tBodies[0].rows) {
    row.className = row.dataset.tenantId === tenantId ? "selected" : "";
  }
  await loadTenant();
}

async function loadTenant() {
  const tenantId = state.selected;
  if (!tenantId) return;
  try {
    const tenant = await api("GET", `v1/tenants/${encodeURIComponent(tenantId)}`);
    if (state.selected === tenantId) renderTenant(tenant);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      closeTenant();
      notice(`Tenant ${tenantId} is not visible with this key.`, "error");
    } else notice(err.message, "error");
  }
}

function renderTenant(tenant) {
  const panel = $("tenant-detail");
  panel.dataset.status = tenant.status;
  const fields = [
    ["Tenant ID", tenant.tenantId],
    ["Customer", tenant.customerName],
    ["Partner", tenant.partnerId],
    ["Region", `${tenant.region}${tenant.outboundGateway ? " (outbound gateway)" : ""}`],
    ["NDR address", tenant.ndrAddress],
    ["Created", utc(tenant.createdAt)],
    ["Updated", utc(tenant.updatedAt)],
  ];
  const list = [el("dt", { text: "Status" }), el("dd", {}, [statusBadge(tenant.status, STATUSES)])];
  for (const [name, value] of fields) list.push(el("dt", { text: name }), el("dd", { text: value }));
  $("tenant-fields").replaceChildren(...list);

  const error = $("tenant-error");
  error.textContent = errorText(tenant.error);
  show(error, Boolean(tenant.error));

  const consent = consentHref(tenant.consentUrl);
  const link = el("a", { text: "open the consent page", title: consent });
  if (consent) {
    link.href = consent;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  $("consent-link").replaceChildren(consent ? link : "");
  show($("tenant-consent"), Boolean(consent));

  $("timeline").replaceChildren(...tenant.steps.map(renderStep));
  $("retry-tenant").disabled = !RETRYABLE.includes(tenant.status);
  $("offboard-tenant").disabled = !OFFBOARDABLE.includes(tenant.status);
  show(panel, true);
}

/** Only http(s) URLs become links: a `javascript:` URL in data must never run. */
function consentHref(value) {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function renderStep(step) {
  const safe = STEP_STATUSES.includes(step.status) ? step.status : "unknown";
  const meta = [
    `attempts ${step.attempts}`,
    step.startedAt ? `started ${utc(step.startedAt)}` : "",
    duration(step.startedAt, step.finishedAt),
  ].filter(Boolean);
  return el("li", { className: `step step-${safe}`, data: { step: step.name, status: step.status } }, [
    el("div", { className: "step-head" }, [
      el("span", { className: "step-name", text: step.name }),
      statusBadge(step.status, STEP_STATUSES),
    ]),
    el("div", { className: "step-meta muted", text: meta.join(" · ") }),
    step.error ? el("div", { className: "step-error", text: errorText(step.error) }) : undefined,
  ]);
}

function closeTenant() {
  state.selected = undefined;
  show($("tenant-detail"), false);
  for (const row of $("tenants-table").tBodies[0].rows) row.className = "";
}

async function retryTenant() {
  const tenantId = state.selected;
  if (!tenantId) return;
  $("retry-tenant").disabled = true;
  try {
    const tenant = await api("POST", `v1/tenants/${encodeURIComponent(tenantId)}/retry`);
    notice(`Retry started for ${tenant.tenantId}.`);
    renderTenant(tenant);
  } catch (err) {
    notice(err.message, "error");
  }
  await refreshAll();
}

async function offboardTenant() {
  const tenantId = state.selected;
  if (!tenantId) return;
  const ok = window.confirm(
    `Offboard ${tenantId}?\n\nThis removes the journal rules, groups and connectors the service created in the tenant and restores its previous NDR address.`,
  );
  if (!ok) return;
  $("offboard-tenant").disabled = true;
  try {
    const tenant = await api("DELETE", `v1/tenants/${encodeURIComponent(tenantId)}`);
    notice(`Offboarding started for ${tenant.tenantId}.`);
    renderTenant(tenant);
  } catch (err) {
    notice(err.message, "error");
  }
  await refreshAll();
}

// ---- webhook deliveries ---------------------------------------------------------------------

async function loadDeliveries() {
  const d = state.deliveries;
  try {
    const page = await api("GET", "v1/webhook/deliveries", { limit: 20, cursor: d.cursors[d.index] });
    d.next = page.nextCursor;
    renderDeliveries(page.items);
    show($("deliveries-error"), false);
  } catch (err) {
    d.next = undefined;
    renderDeliveries([]);
    show($("deliveries-empty"), false);
    $("deliveries-error").textContent =
      err instanceof ApiError && err.status === 501
        ? "Webhooks are not configured on this deployment."
        : err.message;
    show($("deliveries-error"), true);
  }
  $("deliveries-prev").disabled = d.index === 0;
  $("deliveries-next").disabled = !d.next;
  $("deliveries-page").textContent = `Page ${d.index + 1}`;
}

function renderDeliveries(items) {
  const rows = items.map((delivery) => {
    const replay = el("button", { text: "Replay", title: "Send this event again" });
    replay.type = "button";
    replay.addEventListener("click", () => replayDelivery(delivery.deliveryId, replay));
    return el("tr", { data: { deliveryId: delivery.deliveryId } }, [
      el("td", { className: "mono", text: delivery.deliveryId }),
      el("td", { className: "mono", text: delivery.tenantId }),
      el("td", { text: delivery.type }),
      el("td", {}, [el("span", { className: `badge delivery-${delivery.status}`, text: delivery.status })]),
      el("td", { text: delivery.attempts }),
      el("td", { text: delivery.lastResponseStatus ?? "" }),
      el("td", { text: utc(delivery.createdAt), title: delivery.createdAt }),
      el("td", { text: errorText(delivery.error) }),
      el("td", {}, [replay]),
    ]);
  });
  $("deliveries-table").tBodies[0].replaceChildren(...rows);
  show($("deliveries-empty"), items.length === 0);
}

async function replayDelivery(deliveryId, button) {
  button.disabled = true;
  try {
    const delivery = await api("POST", `v1/webhook/deliveries/${encodeURIComponent(deliveryId)}/replay`);
    notice(`Replay queued: ${delivery.type} for ${delivery.tenantId}.`);
  } catch (err) {
    notice(err.message, "error");
  }
  button.disabled = false;
  await loadDeliveries();
}

// ---- refresh and wiring ---------------------------------------------------------------------

async function refreshAll() {
  if (state.refreshing) return;
  state.refreshing = true;
  try {
    await Promise.all([loadTenants(), loadTenant(), loadDeliveries()]);
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
  $("key-form").addEventListener("submit", submitKey);
  $("forget-key").addEventListener("click", () => signOut("Key forgotten."));
  $("status-filter").addEventListener("change", resetTenantPaging);
  $("page-size").addEventListener("change", resetTenantPaging);
  $("refresh-tenants").addEventListener("click", () => refreshAll());
  $("refresh-deliveries").addEventListener("click", () => loadDeliveries());
  $("retry-tenant").addEventListener("click", retryTenant);
  $("offboard-tenant").addEventListener("click", offboardTenant);
  $("close-detail").addEventListener("click", closeTenant);
  pager("tenants", loadTenants);
  pager("deliveries", loadDeliveries);

  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) signIn(key);
  else signOut();
}

start();
