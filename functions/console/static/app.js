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
  "awaiting_permissions",
  "awaiting_approval",
  "succeeded",
  "failed",
  "offboarding",
  "offboarded",
  "offboarding_failed",
];
const STEP_STATUSES = ["pending", "running", "succeeded", "failed", "skipped"];
const RETRYABLE = ["failed", "awaiting_consent", "awaiting_permissions"];
/** The fleet view reads at most this many pages of 100 tenants (newest first). */
const FLEET_MAX_PAGES = 20;
const FLEET_REFRESH_MS = 60000;
/** Bulk replay: requests in flight, and pages of deliveries read to find the failed ones. */
const REPLAY_CONCURRENCY = 4;
const REPLAY_MAX_PAGES = 20;
const OFFBOARDABLE = [
  "succeeded",
  "awaiting_approval",
  "failed",
  "awaiting_consent",
  "awaiting_permissions",
  "offboarding_failed",
];
/** A tenant's drift state for the column and the filter: drift, in-sync or unchecked. */
function driftState(tenant) {
  if (!tenant.drift) return "unchecked";
  return tenant.drift.inSync ? "in-sync" : "drift";
}
const DRIFT_LABELS = { drift: "drift", "in-sync": "in sync", unchecked: "–" };

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
  fleetLoadedAt: 0,
  fleetLoading: false,
  chart: undefined,
  replaying: false,
  /** Failed deliveries on the current page, by id. */
  selectedDeliveries: new Set(),
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
  state.fleetLoadedAt = 0;
  detectRole();
  refreshAll();
  schedule();
}

/**
 * Ops or partner: `GET /v1/partners` is for ops only, so one 1-item page tells (a partner key
 * gets 403). Nothing else in the API says which kind of key is in use.
 */
async function detectRole() {
  const badge = $("key-role");
  try {
    await api("GET", "v1/partners", { limit: 1 });
    setRole("ops");
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) setRole("partner");
    else show(badge, false);
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
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  clearInterval(state.timer);
  state.timer = undefined;
  state.selected = undefined;
  show($("app"), false);
  show($("tenant-detail"), false);
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
    // The drift filter applies to the page read (the API lists by status).
    const drift = $("drift-filter").value;
    renderTenants(drift ? page.items.filter((x) => driftState(x) === drift) : page.items);
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
      el("td", { data: { label: "Tenant ID" } }, [open]),
      el("td", { text: tenant.customerName, data: { label: "Customer" } }),
      el("td", { text: tenant.region, data: { label: "Region" } }),
      el("td", { data: { label: "Status" } }, [statusBadge(tenant.status, STATUSES)]),
      el("td", {
        className: `drift drift-${driftState(tenant)}`,
        text: DRIFT_LABELS[driftState(tenant)],
        title: tenant.drift ? `checked ${utc(tenant.drift.checkedAt)}` : "not checked yet",
        data: { label: "Drift" },
      }),
      el("td", { className: "mono col-secondary", text: tenant.partnerId, data: { label: "Partner" } }),
      el("td", { text: utc(tenant.updatedAt), title: tenant.updatedAt, data: { label: "Updated" } }),
      el("td", {
        className: "col-secondary",
        text: tenant.error?.code ?? "",
        title: tenant.error?.message,
        data: { label: "Error" },
      }),
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
    [
      "NDR address",
      tenant.ndrAddressKept
        ? `${tenant.ndrAddress} (kept after offboarding: Exchange refused to clear it)`
        : tenant.ndrAddress,
    ],
    ["Created", utc(tenant.createdAt)],
    ["Updated", utc(tenant.updatedAt)],
  ];
  if (tenant.missingPermissions?.length) {
    fields.push([
      "Missing permissions",
      `${tenant.missingPermissions.map((m) => `${m.cmdlet} (${m.role})`).join(", ")}; the customer's admin runs GET v1/tenants/${tenant.tenantId}/permissions-script once, then retry`,
    ]);
  }
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

  const plan = tenant.status === "awaiting_approval" ? (tenant.plan ?? []) : [];
  $("plan-list").replaceChildren(
    ...plan.map((w) =>
      el("li", { data: { step: w.step } }, [
        el("span", { className: "mono", text: `${w.cmdlet} ` }),
        el("span", { className: "muted", text: JSON.stringify(w.parameters) }),
        el("div", { text: `${w.step}: ${w.reason}` }),
      ]),
    ),
  );
  $("approve-tenant").disabled = tenant.status !== "awaiting_approval";
  show($("tenant-plan"), tenant.status === "awaiting_approval");

  const drift = tenant.drift;
  const remediation =
    drift?.remediation === "started"
      ? " A remediation run was started."
      : drift?.remediation === "daily_limit_reached"
        ? " Remediations for today are used up: reported only."
        : "";
  $("drift-summary").textContent = drift
    ? `Checked ${utc(drift.checkedAt)}: ${drift.inSync ? "in sync" : "drift"}.${remediation}`
    : "Not checked yet.";
  $("drift-list").replaceChildren(
    ...(drift?.differences ?? []).map((d) =>
      el("li", {
        text: `${d.step}: ${d.object} ${d.field}: expected ${JSON.stringify(d.expected)}, found ${JSON.stringify(d.actual)}`,
      }),
    ),
  );
  $("check-drift").disabled = tenant.status !== "succeeded";
  show($("tenant-drift"), tenant.status === "succeeded" || Boolean(drift));
  void loadChanges(tenant.tenantId);

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

async function loadChanges(tenantId) {
  try {
    const page = await api("GET", `v1/tenants/${encodeURIComponent(tenantId)}/changes`, { limit: 20 });
    if (state.selected !== tenantId) return;
    $("changes-table").tBodies[0].replaceChildren(
      ...page.items.map((c) =>
        el("tr", { data: { cmdlet: c.cmdlet } }, [
          el("td", { text: utc(c.at), title: c.at, data: { label: "Time" } }),
          el("td", { text: c.step, data: { label: "Step" } }),
          el("td", {
            className: "mono",
            text: c.cmdlet,
            title: JSON.stringify(c.parameters),
            data: { label: "Cmdlet" },
          }),
          el("td", { text: c.errorCode ? `error ${c.errorCode}` : c.outcome, data: { label: "Outcome" } }),
          el("td", { text: c.requestedBy, data: { label: "Asked by" } }),
        ]),
      ),
    );
    show($("changes-empty"), page.items.length === 0);
  } catch (err) {
    notice(err.message, "error");
  }
}

async function approveTenant() {
  const tenantId = state.selected;
  if (!tenantId) return;
  if (
    !window.confirm(
      `Approve the plan for ${tenantId}?\n\nExactly the listed writes are made in the customer's tenant.`,
    )
  )
    return;
  $("approve-tenant").disabled = true;
  try {
    const tenant = await api("POST", `v1/tenants/${encodeURIComponent(tenantId)}/approve`);
    notice(`Plan approved for ${tenant.tenantId}.`);
    renderTenant(tenant);
  } catch (err) {
    notice(err.message, "error");
  }
  await refreshAll();
}

async function checkDrift() {
  const tenantId = state.selected;
  if (!tenantId) return;
  $("check-drift").disabled = true;
  try {
    await api("POST", `v1/tenants/${encodeURIComponent(tenantId)}/drift-checks`);
    notice(`Drift check started for ${tenantId}.`);
  } catch (err) {
    notice(err.message, "error");
  }
  await refreshAll();
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
  const failedIds = new Set(items.filter((d) => d.status === "failed").map((d) => d.deliveryId));
  for (const id of [...state.selectedDeliveries]) if (!failedIds.has(id)) state.selectedDeliveries.delete(id);
  const rows = items.map((delivery) => {
    const replay = el("button", { text: "Replay", title: "Send this event again" });
    replay.type = "button";
    replay.disabled = state.replaying;
    replay.addEventListener("click", () => replayDelivery(delivery.deliveryId, replay));
    const pick = el("input", { className: "pick", title: "Select for Replay selected" });
    pick.type = "checkbox";
    pick.setAttribute("aria-label", `Select delivery ${delivery.deliveryId}`);
    pick.checked = state.selectedDeliveries.has(delivery.deliveryId);
    pick.disabled = delivery.status !== "failed";
    pick.addEventListener("change", () => {
      if (pick.checked) state.selectedDeliveries.add(delivery.deliveryId);
      else state.selectedDeliveries.delete(delivery.deliveryId);
      updateSelection();
    });
    return el("tr", { data: { deliveryId: delivery.deliveryId, status: delivery.status } }, [
      el("td", {}, [el("div", { className: "actions" }, [pick, replay])]),
      el("td", { className: "mono id", text: delivery.deliveryId, data: { label: "Delivery" } }),
      el("td", { className: "mono id", text: delivery.tenantId, data: { label: "Tenant" } }),
      el("td", { text: delivery.type, data: { label: "Event" } }),
      el("td", { data: { label: "Status" } }, [
        el("span", { className: `badge delivery-${delivery.status}`, text: delivery.status }),
      ]),
      el("td", { text: delivery.attempts, data: { label: "Attempts" } }),
      el("td", { text: delivery.lastResponseStatus ?? "", data: { label: "HTTP" } }),
      el("td", {
        className: "breakable",
        text: utc(delivery.createdAt),
        title: delivery.createdAt,
        data: { label: "Created" },
      }),
      el("td", { className: "wrap", text: errorText(delivery.error), data: { label: "Error" } }),
    ]);
  });
  $("deliveries-table").tBodies[0].replaceChildren(...rows);
  show($("deliveries-empty"), items.length === 0);
  updateSelection(failedIds.size);
}

function updateSelection(failedOnPage) {
  const failed =
    failedOnPage ?? $("deliveries-table").querySelectorAll("tbody tr[data-status='failed']").length;
  const n = state.selectedDeliveries.size;
  $("replay-selected").textContent = n > 0 ? `Replay selected (${n})` : "Replay selected";
  $("replay-selected").disabled = n === 0 || state.replaying;
  $("replay-all-failed").disabled = state.replaying;
  const all = $("select-failed");
  all.checked = failed > 0 && n === failed;
  all.indeterminate = n > 0 && n < failed;
  all.disabled = failed === 0 || state.replaying;
}

function selectFailed() {
  const on = $("select-failed").checked;
  state.selectedDeliveries.clear();
  for (const row of $("deliveries-table").tBodies[0].rows) {
    const pick = row.querySelector("input.pick");
    if (!pick || row.dataset.status !== "failed") continue;
    pick.checked = on;
    if (on) state.selectedDeliveries.add(row.dataset.deliveryId);
  }
  updateSelection();
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

/** The failed deliveries of every page (at most REPLAY_MAX_PAGES pages of 100). */
async function allFailedDeliveries() {
  const ids = [];
  let cursor;
  let pages = 0;
  do {
    const page = await api("GET", "v1/webhook/deliveries", { limit: 100, cursor });
    for (const d of page.items) if (d.status === "failed") ids.push(d.deliveryId);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < REPLAY_MAX_PAGES);
  return { ids, capped: Boolean(cursor) };
}

/** Replays each delivery, REPLAY_CONCURRENCY at a time, with a progress bar and a summary. */
async function replayMany(ids, capped = false) {
  if (state.replaying || ids.length === 0) {
    if (ids.length === 0) notice("No failed deliveries to replay.");
    return;
  }
  state.replaying = true;
  updateSelection();
  const bar = $("replay-bar");
  const text = $("replay-text");
  bar.max = ids.length;
  bar.value = 0;
  show($("replay-progress"), true);
  const errors = [];
  let done = 0;
  let next = 0;
  const progress = () => {
    bar.value = done;
    text.textContent = `Replaying ${done}/${ids.length}${errors.length ? ` · ${errors.length} failed` : ""}…`;
  };
  progress();
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await api("POST", `v1/webhook/deliveries/${encodeURIComponent(id)}/replay`);
      } catch (err) {
        errors.push(`${id}: ${err.message}`);
      }
      done += 1;
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPLAY_CONCURRENCY, ids.length) }, worker));
  const summary = `Replayed ${ids.length - errors.length} of ${ids.length}${
    errors.length
      ? `; ${errors.length} failed (${errors.slice(0, 3).join("; ")}${errors.length > 3 ? "; …" : ""})`
      : "."
  }${capped ? ` Only the newest ${REPLAY_MAX_PAGES * 100} deliveries were read.` : ""}`;
  text.textContent = summary;
  $("replay-progress").dataset.done = "true";
  notice(summary, errors.length ? "error" : "info");
  state.replaying = false;
  state.selectedDeliveries.clear();
  await loadDeliveries();
}

async function replaySelected() {
  delete $("replay-progress").dataset.done;
  await replayMany([...state.selectedDeliveries]);
}

async function replayAllFailed() {
  delete $("replay-progress").dataset.done;
  try {
    const { ids, capped } = await allFailedDeliveries();
    if (ids.length > 0 && !window.confirm(`Replay ${ids.length} failed deliveries?`)) return;
    await replayMany(ids, capped);
  } catch (err) {
    notice(err.message, "error");
  }
}

// ---- fleet ----------------------------------------------------------------------------------

/**
 * The newest tenants, up to FLEET_MAX_PAGES pages of 100; `capped` when there are more. The
 * section's `data-max-pages` and `data-page-size` attributes, when set, override both.
 */
async function readFleet() {
  const section = $("fleet-section");
  const maxPages = Number(section.dataset.maxPages) || FLEET_MAX_PAGES;
  const pageSize = Number(section.dataset.pageSize) || 100;
  const tenants = [];
  let cursor;
  let pages = 0;
  do {
    const page = await api("GET", "v1/tenants", { limit: pageSize, cursor });
    tenants.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < maxPages);
  return { tenants, capped: Boolean(cursor), pages, pageSize };
}

async function loadFleet() {
  if (state.fleetLoading) return;
  state.fleetLoading = true;
  try {
    const fleet = await readFleet();
    state.fleetLoadedAt = Date.now();
    renderFleet(fleet);
    show($("fleet-error"), false);
  } catch (err) {
    $("fleet-error").textContent = err.message;
    show($("fleet-error"), true);
  } finally {
    state.fleetLoading = false;
  }
}

function renderFleet({ tenants, capped, pages, pageSize }) {
  const section = $("fleet-section");
  section.dataset.tenants = String(tenants.length);
  $("fleet-read").textContent = `${tenants.length} tenants read · ${utc(new Date().toISOString()).slice(11)}`;
  const cappedNote = $("fleet-capped");
  cappedNote.textContent = `Capped: only the newest ${tenants.length} tenants (${pages} pages of ${pageSize}) are counted; older ones are left out. The CLI's \`tenants export\` reads them all.`;
  show(cappedNote, capped);
  section.dataset.capped = String(capped);

  const byStatus = new Map(STATUSES.map((s) => [s, 0]));
  const byError = new Map();
  for (const t of tenants) {
    byStatus.set(t.status, (byStatus.get(t.status) ?? 0) + 1);
    if (t.error?.code) byError.set(t.error.code, (byError.get(t.error.code) ?? 0) + 1);
  }
  $("fleet-counts").replaceChildren(
    ...[...byStatus]
      .filter(([, n]) => n > 0)
      .map(([status, n]) =>
        el("li", { data: { status } }, [
          statusBadge(status, STATUSES),
          el("span", { className: "count", text: n }),
        ]),
      ),
  );
  const top = [...byError].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
  $("fleet-errors").replaceChildren(
    ...top.map(([code, n]) =>
      el("li", { data: { code } }, [
        el("span", { className: "mono", text: code }),
        el("span", { className: "count", text: n }),
      ]),
    ),
  );
  show($("fleet-no-errors"), top.length === 0);
  renderChart(tenants);
}

/** Tenants created, and tenants succeeded (by their last update), per hour of the last 24 h. */
function hourly(tenants) {
  const hour = 3600;
  const end = Math.floor(Date.now() / 1000 / hour) * hour;
  const xs = Array.from({ length: 24 }, (_, i) => end - (23 - i) * hour);
  const started = xs.map(() => 0);
  const succeeded = xs.map(() => 0);
  const slot = (iso) => {
    const t = Date.parse(iso) / 1000;
    if (!Number.isFinite(t)) return -1;
    const i = Math.floor((t - xs[0]) / hour);
    return i >= 0 && i < 24 ? i : -1;
  };
  for (const t of tenants) {
    const a = slot(t.createdAt);
    if (a >= 0) started[a] += 1;
    if (t.status === "succeeded") {
      const b = slot(t.updatedAt);
      if (b >= 0) succeeded[b] += 1;
    }
  }
  return [xs, started, succeeded];
}

function chartWidth() {
  return Math.max(240, Math.floor($("fleet-chart").clientWidth || 600));
}

function renderChart(tenants) {
  const data = hourly(tenants);
  const node = $("fleet-chart");
  node.dataset.points = String(data[1].reduce((a, b) => a + b, 0));
  if (typeof window.uPlot !== "function") {
    node.textContent = "The chart library did not load.";
    return;
  }
  if (state.chart) {
    state.chart.setData(data);
    return;
  }
  const bars = window.uPlot.paths.bars({ size: [0.7, 40], gap: 1 });
  state.chart = new window.uPlot(
    {
      width: chartWidth(),
      height: 200,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{ stroke: "#667085" }, { stroke: "#667085", size: 40 }],
      series: [
        {
          label: "hour (UTC)",
          value: (_u, v) => (v == null ? "" : utc(new Date(v * 1000).toISOString()).slice(5, 16)),
        },
        {
          label: "started",
          stroke: "#2454d6",
          fill: "rgba(36, 84, 214, 0.35)",
          paths: bars,
          points: { show: false },
        },
        {
          label: "succeeded",
          stroke: "#15803d",
          fill: "rgba(21, 128, 61, 0.35)",
          paths: bars,
          points: { show: false },
        },
      ],
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    },
    data,
    node,
  );
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
