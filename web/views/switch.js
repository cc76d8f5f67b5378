// Switch: one switch's counters over a chosen window from history (rates for cumulative counters, in their unit
// scale), a chart each (uPlot: drag to zoom, double-click to reset), its current values and stale state. The
// charts follow new generations through the long poll on this switch's GetMetric-sized ListMetrics answer.
import { HttpError, banner, fmtNum, fmtShort, getJSON, h, setQuery } from "../lib/api.js";

const WINDOWS = [["15 min", 900], ["1 h", 3600], ["6 h", 21600], ["24 h", 86400]];

export function mount(el, { name, query }) {
  const win = Number(query.get("window")) || 900;
  const st = { stopped: false, ctl: new AbortController(), charts: [], etag: null, probe: null, loadedAt: 0, zoomed: false };
  window.fabtel = window.fabtel || {};
  window.fabtel.charts = st.charts;
  const picker = h("select", { "aria-label": "Window" }, WINDOWS.map(([l, s]) => h("option", { value: s, text: l, selected: s === win })));
  picker.addEventListener("change", () => setQuery({ window: picker.value }, false));
  const state = h("span", { class: "muted", id: "switch-state" });
  const current = h("div", { class: "cards", id: "switch-current" });
  const charts = h("div", { class: "charts" });
  el.append(h("h1", {}, "Switch ", h("span", { text: name })), h("div", { class: "toolbar" }, h("a", { href: "#/fabric", text: "← fabric" }), picker, state),
    current, charts, h("p", { class: "note", text: "Drag across a chart to zoom, double-click to zoom out. Cumulative counters are shown as rates per second, in base units." }));

  async function load() {
    try {
      const ctr = await getJSON("/telemetry/counters", { signal: st.ctl.signal });
      const numeric = ctr.counters.filter((c) => c.type === "int" || c.type === "uint" || c.type === "float");
      const names = numeric.map((c) => c.name);
      st.probe = names[0];
      await showCurrent();
      // One request per kind: gauges as they are, counters as rates (history refuses rate=1 on a gauge).
      const series = [];
      for (const [kind, rate] of [["gauge", 0], ["counter", 1]]) {
        const ms = numeric.filter((c) => (c.kind || "gauge") === kind).map((c) => c.name);
        if (!ms.length) continue;
        const from = Math.floor(Date.now() / 1000) - win;
        const doc = await getJSON(`/telemetry/history?switch_id=${encodeURIComponent(name)}&metric=${ms.join(",")}&from=${from}${rate ? "&rate=1" : ""}`,
          { signal: st.ctl.signal });
        for (const s of doc.series) series.push({ ...s, rate: !!rate, scale: (numeric.find((c) => c.name === s.metric) || {}).scale || 1 });
      }
      series.sort((a, b) => names.indexOf(a.metric) - names.indexOf(b.metric));
      draw(series);
      st.loadedAt = Date.now();
      el.dataset.state = "ready";
      banner("switch", null);
    } catch (e) {
      if (st.stopped) return;
      el.dataset.state = "error";
      const missing = e instanceof HttpError && e.status === 404;
      charts.replaceChildren(h("p", { class: "error", text: missing ? `No switch named ${name}.` : `History unavailable: ${e.message}` }));
      banner("switch", missing ? null : "History unavailable; retrying in 5 s.");
      st.probe = missing ? null : st.probe; /* nothing to follow */
      if (!missing) setTimeout(() => !st.stopped && load(), 5000);
    }
  }

  async function showCurrent() {
    const doc = await getJSON(`/telemetry/ListMetrics?switch_id=${encodeURIComponent(name)}`, { signal: st.ctl.signal, okStatuses: [404] });
    const row = doc && doc.metrics && doc.metrics[0];
    current.replaceChildren();
    if (!row) {
      state.textContent = "absent from the latest generation";
      return;
    }
    state.textContent = row.present === false ? "not reported in the latest generation (a port gone down)"
      : row.stale ? "stale: its latest row was rejected; previous values shown" : `sampled ${row.timestamp}`;
    for (const [k, v] of Object.entries(row)) {
      if (k === "switch_id" || k === "timestamp" || k === "stale") continue;
      current.append(h("div", { class: "card" }, h("div", { class: "k", text: k }), h("div", { class: "v", text: fmtNum(v) })));
    }
  }

  function draw(series) {
    charts.replaceChildren();
    st.charts.length = 0;
    for (const s of series) {
      const xs = s.points.map((p) => p[0] / 1000), ys = s.points.map((p) => p[1]);
      const box = h("div", { class: "chart", dataset: { metric: s.metric, points: String(xs.length) } },
        h("h2", { text: `${s.metric}${s.rate ? " (per second" + (s.scale !== 1 ? `, ×${s.scale}` : "") + ")" : ""}` }));
      charts.append(box);
      if (typeof uPlot === "undefined") continue;
      const width = Math.max(300, box.clientWidth - 16);
      const u = new uPlot({
        width, height: 180,
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: true } },
        axes: [{ stroke: "#9fb0bf", grid: { stroke: "#2b3742" } }, { stroke: "#9fb0bf", grid: { stroke: "#2b3742" }, size: 56, values: (u, vals) => vals.map(fmtShort) }],
        series: [{}, { label: s.metric, stroke: "#5cb3ff", width: 1.5, points: { show: xs.length < 200 } }],
        legend: { show: false },
        hooks: { setScale: [(u, key) => key === "x" && zoomChanged(u)] },
      }, [xs, ys], box);
      st.charts.push(u);
    }
    if (!series.length) charts.append(h("p", { class: "muted", text: "No history for this switch in the window." }));
  }

  // A chart zoomed in (dragged) holds still: new generations do not redraw under the reader until zoomed out.
  function zoomChanged(u) {
    const x = u.data[0];
    st.zoomed = x.length > 1 && (u.scales.x.min > x[0] + 1e-6 || u.scales.x.max < x[x.length - 1] - 1e-6);
  }

  // Redraw at each new generation (the long poll on one of this switch's values); long windows at most every 30 s.
  async function follow() {
    while (!st.stopped && st.probe) {
      try {
        const url = `/telemetry/GetMetric?switch_id=${encodeURIComponent(name)}&metric=${encodeURIComponent(st.probe)}`;
        const r = await fetch(st.etag ? url + "&wait=30" : url, { signal: st.ctl.signal, cache: "no-store", headers: st.etag ? { "If-None-Match": st.etag } : {} });
        if (r.status === 304) continue;
        const first = st.etag === null;
        st.etag = r.ok ? r.headers.get("ETag") : null;
        if (!r.ok) throw new HttpError(r.status, r.statusText);
        if (!first && !st.zoomed && Date.now() - st.loadedAt >= (win > 3600 ? 30000 : 0)) await load();
      } catch (e) {
        if (st.stopped) return;
        await new Promise((res) => setTimeout(res, 3000));
      }
    }
  }
  load().then(follow);
  return {
    stop() {
      st.stopped = true;
      st.ctl.abort();
      for (const u of st.charts) u.destroy();
      banner("switch", null);
    },
  };
}
