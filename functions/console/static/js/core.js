// What every view of the console shares: constants, the API call, the page state, and the
// helpers that put the API's data on the page (textContent only, never parsed as HTML).

export const KEY_STORAGE = "journal-onboarding.apiKey";
/** The API is where the console is, minus `console`: `/` locally, `/prod/` behind API Gateway. */
export const API_BASE = new URL(".", window.location.href);
export const REFRESH_MS = 2000;
export const STATUSES = [
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
export const STEP_STATUSES = ["pending", "running", "succeeded", "failed", "skipped"];
export const RETRYABLE = ["failed", "awaiting_consent", "awaiting_permissions"];
/** The fleet view reads at most this many pages of 100 tenants (newest first). */
export const FLEET_MAX_PAGES = 20;
export const FLEET_REFRESH_MS = 60000;
/** Bulk replay: requests in flight, and pages of deliveries read to find the failed ones. */
export const REPLAY_CONCURRENCY = 4;
export const REPLAY_MAX_PAGES = 20;
export const OFFBOARDABLE = [
  "succeeded",
  "awaiting_approval",
  "failed",
  "awaiting_consent",
  "awaiting_permissions",
  "offboarding_failed",
];
/** A tenant's drift state for the column and the filter: drift, in-sync or unchecked. */
export function driftState(tenant) {
  if (!tenant.drift) return "unchecked";
  return tenant.drift.inSync ? "in-sync" : "drift";
}
export const DRIFT_LABELS = { drift: "drift", "in-sync": "in sync", unchecked: "–" };

export const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
};

export const state = {
  tenants: { cursors: [undefined], index: 0, next: undefined },
  deliveries: { cursors: [undefined], index: 0, next: undefined },
  selected: undefined,
  timer: undefined,
  refreshing: false,
  fleetLoadedAt: 0,
  fleetLoading: false,
  fleetAgain: false,
  chart: undefined,
  replaying: false,
  /** Failed deliveries on the current page, by id. */
  selectedDeliveries: new Set(),
};

/** Set by app.js: what other modules call back into (no import cycle). */
export const hooks = {
  /** Reloads every section. */
  refreshAll: async () => {},
  /** Drops the key and shows the sign-in form with `message`. */
  signOut: (_message) => {},
};

/** The newest load of each view, by view name (`newest`). */
const loads = new Map();

/**
 * Starts a load of `view` and returns whether it is still that view's newest: answers can arrive
 * out of order (an auto-refresh in flight when the user pages on), and an older answer must not
 * draw over a newer one.
 */
export function newest(view) {
  const n = (loads.get(view) ?? 0) + 1;
  loads.set(view, n);
  return () => loads.get(view) === n;
}

/**
 * The key changed (signed in or out): no answer in flight for the previous key is drawn, and the
 * loads it was running no longer keep the next key's from starting.
 */
export function forgetLoads() {
  for (const [view, n] of loads) loads.set(view, n + 1);
  state.refreshing = false;
  state.fleetLoading = false;
  state.fleetAgain = false;
}

export class ApiError extends Error {
  constructor(status, problem) {
    const title = problem?.title || `HTTP ${status}`;
    super(problem?.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem;
  }
}

// ---- API ------------------------------------------------------------------------------------

export async function api(method, path, query) {
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
    if (response.status === 401) hooks.signOut("The API refused the key (401). Enter a valid key.");
    throw new ApiError(response.status, body);
  }
  return body;
}

// ---- rendering helpers ----------------------------------------------------------------------

/** Builds an element; `text` is set as textContent, children are appended as nodes. */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  if (options.title) node.title = String(options.title);
  for (const [name, value] of Object.entries(options.data ?? {})) node.dataset[name] = String(value);
  for (const child of children) if (child) node.append(child);
  return node;
}

export function statusBadge(status, known) {
  const safe = known.includes(status) ? status : "unknown";
  return el("span", { className: `badge status-${safe}`, text: status });
}

export function utc(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

export function duration(from, to) {
  if (!from || !to) return "";
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

export function errorText(error) {
  return error ? `${error.code}: ${error.message}` : "";
}

export function show(node, visible) {
  node.hidden = !visible;
}

let noticeTimer;
export function notice(message, kind = "info") {
  const node = $("notice");
  node.textContent = message;
  node.className = `notice notice-${kind === "error" ? "error" : "info"}`;
  show(node, true);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => show(node, false), kind === "error" ? 10000 : 5000);
}
