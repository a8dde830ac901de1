// The fleet view: tenants per status, the most frequent errors, and onboardings per hour.

import { $, api, el, FLEET_MAX_PAGES, newest, STATUSES, show, state, statusBadge, utc } from "./core.js";

/**
 * The newest tenants, up to FLEET_MAX_PAGES pages of 100; `capped` when there are more. The
 * section's `data-max-pages` and `data-page-size` attributes, when set, override both.
 */
export async function readFleet() {
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

/**
 * Loads the fleet. A load is many pages: one runs at a time. A Refresh clicked while one is in
 * flight (`again`) is not dropped: what that load read may predate the click, so another load
 * follows it. The minute's own reload asks for none.
 */
export async function loadFleet({ again = false } = {}) {
  if (state.fleetLoading) {
    if (again) state.fleetAgain = true;
    return;
  }
  state.fleetLoading = true;
  // A load for a key that was forgotten meanwhile draws nothing (`forgetLoads`).
  const current = newest("fleet");
  try {
    const fleet = await readFleet();
    if (!current()) return;
    state.fleetLoadedAt = Date.now();
    renderFleet(fleet);
    show($("fleet-error"), false);
  } catch (err) {
    if (!current()) return;
    $("fleet-error").textContent = err.message;
    show($("fleet-error"), true);
  } finally {
    // A forgotten load has already handed the flags to the next key's loads.
    if (current()) {
      state.fleetLoading = false;
      if (state.fleetAgain) {
        state.fleetAgain = false;
        void loadFleet();
      }
    }
  }
}

export function renderFleet({ tenants, capped, pages, pageSize }) {
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
    // Waiting for the customer's consent is a step of onboarding, not an error to fix.
    if (t.error?.code && t.status !== "awaiting_consent") {
      byError.set(t.error.code, (byError.get(t.error.code) ?? 0) + 1);
    }
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
export function hourly(tenants) {
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

export function chartWidth() {
  return Math.max(240, Math.floor($("fleet-chart").clientWidth || 600));
}

export function renderChart(tenants) {
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
  // The two series side by side in each hour (started left of the hour's mark, succeeded
  // right of it), each bar's box kept for the page's layout checks (data-bars).
  const drawn = [];
  const barsOf = (align) =>
    window.uPlot.paths.bars({
      size: [0.4, 24],
      align,
      each: (u, seriesIdx, dataIdx, left, top, width, height) => {
        if (dataIdx === u.data[0].length - 1) drawn.push({ series: seriesIdx, left, top, width, height });
      },
    });
  const hooks = {
    drawClear: [() => drawn.splice(0)],
    draw: [
      (u) => {
        node.dataset.bars = JSON.stringify({
          plot: { left: u.bbox.left, width: u.bbox.width },
          lastHour: drawn,
        });
      },
    ],
  };
  state.chart = new window.uPlot(
    {
      width: chartWidth(),
      height: 200,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      hooks,
      // Half an hour on each side: the first and the current hour's bars are drawn whole.
      scales: {
        x: { time: true, range: (_u, min, max) => [min - 1800, max + 1800] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
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
          paths: barsOf(-1),
          points: { show: false },
        },
        {
          label: "succeeded",
          stroke: "#15803d",
          fill: "rgba(21, 128, 61, 0.35)",
          paths: barsOf(1),
          points: { show: false },
        },
      ],
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    },
    data,
    node,
  );
}
