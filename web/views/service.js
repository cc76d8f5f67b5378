// Service: ingest and API performance over 24 h (apid's /telemetry/performance), freshness, the daemons behind
// the front door and apid's workers (/health), refreshed every 2 s.
import { fmtAge, fmtNum, getJSON, h } from "../lib/api.js";

const FIGURES = [
  ["total_ingest_count_24", "ingests (24 h)"], ["total_ingest_failures_24", "ingest failures (24 h)"],
  ["avg_ingest_duration_ms", "ingest avg (ms)"], ["max_ingest_duration_ms", "ingest max (ms)"],
  ["total_api_requests_24", "API requests (24 h)"], ["total_api_requests_failures_24", "API failures (24 h)"],
  ["p50_api_latency_ms", "API p50 (ms)"], ["p99_api_latency_ms", "API p99 (ms)"], ["max_api_latency_ms", "API max (ms)"],
  ["total_rows_rejected_24", "rows rejected (24 h)"], ["seqlock_retries", "seqlock retries"],
  ["history_window_s", "history window"], ["history_rollup_window_s", "rollup window"],
];

export function mount(el) {
  const st = { stopped: false, ctl: new AbortController(), timer: 0 };
  const health = h("div", { class: "cards", id: "svc-health" });
  const perf = h("div", { class: "cards", id: "svc-perf" });
  el.append(h("h1", { text: "Service" }), h("h2", { text: "Health" }), health, h("h2", { text: "Performance (24 h)" }), perf);
  const card = (k, v, cls) => h("div", { class: "card" }, h("div", { class: "k", text: k }), h("div", { class: `v ${cls || ""}`, text: v }));

  async function load() {
    try {
      const [hl, p] = await Promise.all([getJSON("/health", { okStatuses: [503], signal: st.ctl.signal }),
        getJSON("/telemetry/performance", { okStatuses: [503], signal: st.ctl.signal })]);
      const comps = Object.entries(hl.components || {});
      health.replaceChildren(card("telemetry", hl.status, hl.status === "ok" ? "ok" : "down"),
        card("freshness (data age)", hl.data_age_ms == null ? "–" : fmtAge(hl.data_age_ms)),
        card("generation", String(hl.generation)), card("workers", String(hl.workers)),
        card("ingest", hl.ingest || "–", hl.ingest === "ok" ? "ok" : "down"),
        ...comps.map(([k, v]) => card(k, v, v === "ok" ? "ok" : "down")),
        card("active deployments", hl.active_deployments == null ? "–" : String(hl.active_deployments)));
      perf.replaceChildren(...FIGURES.filter(([k]) => p && k in p).map(([k, label]) =>
        card(label, k.endsWith("_window_s") ? (p[k] > 0 ? fmtAge(p[k] * 1000) : "–") : fmtNum(p[k]))));
      el.dataset.state = "ready";
    } catch (e) {
      if (st.stopped) return;
      health.replaceChildren(h("p", { class: "error", text: `apid unavailable: ${e.message}` }));
      el.dataset.state = "error";
    }
    if (!st.stopped) st.timer = setTimeout(load, 2000);
  }
  load();
  return { stop: () => ((st.stopped = true), st.ctl.abort(), clearTimeout(st.timer)) };
}
