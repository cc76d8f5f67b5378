// Bottlenecks: the fabric's (apid, from history) and each deployment's (orchd), with the scores and per-metric
// deviations, worst first, each switch linking to its view. Refreshed every 10 s (the window is minutes long).
import { banner, fmtNum, getJSON, h, setQuery } from "../lib/api.js";

export function mount(el, { query }) {
  const st = { stopped: false, ctl: new AbortController(), timer: 0 };
  const method = query.get("method") || "robust", window_s = Number(query.get("window")) || 600;
  const methodSel = h("select", { "aria-label": "Method" }, ["robust", "zscore"].map((m) => h("option", { value: m, text: m, selected: m === method })));
  const winSel = h("select", { "aria-label": "Window" },
    [[300, "5 min"], [600, "10 min"], [1800, "30 min"], [3600, "60 min"]].map(([s, l]) => h("option", { value: s, text: l, selected: s === window_s })));
  const change = () => setQuery({ method: methodSel.value, window: winSel.value }, false);
  methodSel.addEventListener("change", change);
  winSel.addEventListener("change", change);
  const fabricBox = h("section", { id: "bn-fabric" });
  const depBox = h("section", { id: "bn-deployments" });
  el.append(h("h1", { text: "Bottlenecks" }), h("div", { class: "toolbar" }, methodSel, winSel), fabricBox, depBox);

  function table(rows, cols) {
    if (!rows.length) return h("p", { class: "muted", text: "Nothing flagged." });
    return h("table", {},
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", text: c[0] })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => c[1](r))))));
  }

  async function fabric() {
    try {
      const d = await getJSON(`/telemetry/bottlenecks?window=${window_s}&method=${method}`, { signal: st.ctl.signal });
      const metrics = d.bottlenecks.length ? Object.keys(d.bottlenecks[0].z) : [];
      fabricBox.replaceChildren(h("h2", { text: `Fabric: ${d.total_bottlenecks} of ${d.judged} switches flagged (${d.method}, threshold ${d.threshold})` }),
        table(d.bottlenecks, [
          ["switch", (b) => h("td", {}, h("a", { href: `#/switch/${encodeURIComponent(b.switch_id)}`, text: b.switch_id }))],
          ["score", (b) => h("td", { text: fmtNum(b.deviation_score) })],
          ...metrics.map((m) => [`${m} (z)`, (b) => h("td", { text: `${fmtNum(b.means[m])} (${fmtNum(b.z[m])})` })]),
        ]));
      banner("bn-fabric", null);
    } catch (e) {
      if (st.stopped) return;
      fabricBox.replaceChildren(h("h2", { text: "Fabric" }), h("p", { class: "error", text: `Unavailable: ${e.message}` }));
    }
  }

  async function perDeployment() {
    let list;
    try {
      list = await getJSON("/deployments?limit=20", { signal: st.ctl.signal });
    } catch (e) {
      if (st.stopped) return;
      depBox.replaceChildren(h("h2", { text: "Deployments" }), h("p", { class: "error", text: `orchd unavailable: ${e.message}` }));
      return;
    }
    const parts = [h("h2", { text: "Deployments" })];
    if (!list.length) parts.push(h("p", { class: "muted", text: "No deployments." }));
    for (const d of list) {
      try {
        const minutes = Math.max(1, Math.min(60, Math.round(window_s / 60)));
        const b = await getJSON(`/deployments/${d.id}/bottlenecks?analysis_window_minutes=${minutes}&method=${method}`, { signal: st.ctl.signal });
        parts.push(h("h2", {}, h("a", { href: `#/deployments/${d.id}`, text: d.name }), ` — ${b.total_bottlenecks} flagged`),
          table(b.bottlenecks, [
            ["node", (x) => h("td", {}, h("a", { href: `#/switch/switch-${d.id}-${x.node_identifier.replace("node-", "")}`, text: x.node_identifier }))],
            ["score", (x) => h("td", { text: fmtNum(x.deviation_score) })],
            ["latency ms (z)", (x) => h("td", { text: `${fmtNum(x.latency_ms)} (${fmtNum(x.z.latency_ms)})` })],
            ["throughput Gb/s (z)", (x) => h("td", { text: `${fmtNum(x.throughput_gbps)} (${fmtNum(x.z.throughput_gbps)})` })],
            ["error % (z)", (x) => h("td", { text: `${fmtNum(x.error_rate)} (${fmtNum(x.z.error_rate)})` })],
          ]));
      } catch (e) {
        if (st.stopped) return;
        parts.push(h("p", { class: "error", text: `${d.name}: ${e.message}` }));
      }
    }
    depBox.replaceChildren(...parts);
  }

  async function refresh() {
    await Promise.all([fabric(), perDeployment()]);
    if (st.stopped) return;
    el.dataset.state = "ready";
    st.timer = setTimeout(refresh, 10000);
  }
  refresh();
  return {
    stop() {
      st.stopped = true;
      st.ctl.abort();
      clearTimeout(st.timer);
      banner("bn-fabric", null);
    },
  };
}
