// The tenants view: the list with its filters and paging, one tenant's detail (fields, steps
// as a timeline, drift, plan, changes) and its actions (retry, offboard, approve, drift check).

import {
  $,
  ApiError,
  api,
  DRIFT_LABELS,
  driftState,
  duration,
  el,
  errorText,
  hooks,
  newest,
  notice,
  OFFBOARDABLE,
  RETRYABLE,
  STATUSES,
  STEP_STATUSES,
  show,
  state,
  statusBadge,
  utc,
} from "./core.js";
import { reveal, showDetail } from "./layout.js";

export async function loadTenants() {
  const t = state.tenants;
  const current = newest("tenants");
  try {
    const page = await api("GET", "v1/tenants", {
      status: $("status-filter").value,
      limit: $("page-size").value,
      cursor: t.cursors[t.index],
    });
    if (!current()) return;
    t.next = page.nextCursor;
    // The drift filter applies to the page read (the API lists by status).
    const drift = $("drift-filter").value;
    renderTenants(drift ? page.items.filter((x) => driftState(x) === drift) : page.items);
    show($("tenants-error"), false);
  } catch (err) {
    if (!current()) return;
    $("tenants-error").textContent = err.message;
    show($("tenants-error"), true);
  }
  $("tenants-prev").disabled = t.index === 0;
  $("tenants-next").disabled = !t.next;
  $("tenants-page").textContent = `Page ${t.index + 1}`;
}

export function renderTenants(items) {
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

export async function selectTenant(tenantId) {
  state.selected = tenantId;
  for (const row of $("tenants-table").tBodies[0].rows) {
    row.className = row.dataset.tenantId === tenantId ? "selected" : "";
  }
  await loadTenant();
  // Opened by a click: on a phone the detail is below the whole list, so bring it up.
  if (state.selected === tenantId && !$("tenant-detail").hidden) reveal($("tenant-detail"));
}

export async function loadTenant() {
  const tenantId = state.selected;
  if (!tenantId) return;
  const current = newest("tenant");
  try {
    const tenant = await api("GET", `v1/tenants/${encodeURIComponent(tenantId)}`);
    if (state.selected === tenantId && current()) renderTenant(tenant);
  } catch (err) {
    if (!current()) return;
    if (err instanceof ApiError && err.status === 404) {
      closeTenant();
      notice(`Tenant ${tenantId} is not visible with this key.`, "error");
    } else notice(err.message, "error");
  }
}

export function renderTenant(tenant) {
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
      `${tenant.missingPermissions.map((m) => `${m.cmdlet} (${m.role})`).join(", ")}; the customer's admin signs in at the setup page below (the service then sets the roles up and retries), or runs GET v1/tenants/${tenant.tenantId}/permissions-script once, then retry`,
    ]);
  }
  const list = [el("dt", { text: "Status" }), el("dd", {}, [statusBadge(tenant.status, STATUSES)])];
  for (const [name, value] of fields) list.push(el("dt", { text: name }), el("dd", { text: value }));
  $("tenant-fields").replaceChildren(...list);

  const error = $("tenant-error");
  error.textContent = errorText(tenant.error);
  show(error, Boolean(tenant.error));

  const consent = consentHref(tenant.consentUrl);
  const setup = tenant.status === "awaiting_permissions";
  $("consent-text").textContent = setup
    ? "The customer's admin can grant the missing roles by signing in:"
    : "Consent is needed in the customer's tenant:";
  const link = el("a", {
    text: setup ? "open the sign-in setup page" : "open the consent page",
    title: consent,
  });
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
  showDetail(true);
}

/** Only http(s) URLs become links: a `javascript:` URL in data must never run. */
export function consentHref(value) {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export function renderStep(step) {
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

export async function loadChanges(tenantId) {
  const current = newest("changes");
  try {
    const page = await api("GET", `v1/tenants/${encodeURIComponent(tenantId)}/changes`, { limit: 20 });
    if (state.selected !== tenantId || !current()) return;
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

export async function approveTenant() {
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
  await hooks.refreshAll();
}

export async function checkDrift() {
  const tenantId = state.selected;
  if (!tenantId) return;
  $("check-drift").disabled = true;
  try {
    await api("POST", `v1/tenants/${encodeURIComponent(tenantId)}/drift-checks`);
    notice(`Drift check started for ${tenantId}.`);
  } catch (err) {
    notice(err.message, "error");
  }
  await hooks.refreshAll();
}

export function closeTenant() {
  state.selected = undefined;
  showDetail(false);
  for (const row of $("tenants-table").tBodies[0].rows) row.className = "";
}

export async function retryTenant() {
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
  await hooks.refreshAll();
}

export async function offboardTenant() {
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
  await hooks.refreshAll();
}
