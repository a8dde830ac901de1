// The webhook deliveries view: the list with paging, replay one by one, and bulk replay.

import {
  $,
  ApiError,
  api,
  el,
  errorText,
  newest,
  notice,
  REPLAY_CONCURRENCY,
  REPLAY_MAX_PAGES,
  show,
  state,
  utc,
} from "./core.js";

export async function loadDeliveries() {
  const d = state.deliveries;
  const current = newest("deliveries");
  try {
    const page = await api("GET", "v1/webhook/deliveries", { limit: 20, cursor: d.cursors[d.index] });
    if (!current()) return;
    d.next = page.nextCursor;
    renderDeliveries(page.items);
    show($("deliveries-error"), false);
  } catch (err) {
    if (!current()) return;
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

export function renderDeliveries(items) {
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

export function updateSelection(failedOnPage) {
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

export function selectFailed() {
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

export async function replayDelivery(deliveryId, button) {
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
export async function allFailedDeliveries() {
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
export async function replayMany(ids, capped = false) {
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

export async function replaySelected() {
  delete $("replay-progress").dataset.done;
  await replayMany([...state.selectedDeliveries]);
}

export async function replayAllFailed() {
  delete $("replay-progress").dataset.done;
  try {
    const { ids, capped } = await allFailedDeliveries();
    if (ids.length > 0 && !window.confirm(`Replay ${ids.length} failed deliveries?`)) return;
    await replayMany(ids, capped);
  } catch (err) {
    notice(err.message, "error");
  }
}
