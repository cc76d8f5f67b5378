// Flows (flowd, through apid): the hours with data, and for one hour the top talkers by bytes (src → dest, all
// VPCs together) and the hour's totals.
import { banner, fmtBytes, getJSON, h, setQuery } from "../lib/api.js";

export function mount(el, { query }) {
  const st = { stopped: false, ctl: new AbortController() };
  const hourSel = h("select", { "aria-label": "Hour", id: "flows-hour" });
  hourSel.addEventListener("change", () => setQuery({ hour: hourSel.value }, false));
  const totals = h("div", { class: "cards", id: "flows-totals" });
  const body = h("div", { id: "flows-top" });
  el.append(h("h1", { text: "Flows" }), h("div", { class: "toolbar" }, h("span", { class: "muted", text: "hour" }), hourSel), totals, body);

  async function load() {
    try {
      const hours = await getJSON("/flows/hours", { signal: st.ctl.signal });
      if (!hours.length) {
        body.replaceChildren(h("p", { class: "muted", text: "No flows recorded yet." }));
        el.dataset.state = "ready";
        return;
      }
      const hour = query.has("hour") ? Number(query.get("hour")) : hours[hours.length - 1];
      hourSel.replaceChildren(...hours.map((x) => h("option", { value: x, text: String(x), selected: x === hour })));
      const flows = await getJSON(`/flows?hour=${hour}`, { signal: st.ctl.signal });
      const pairs = new Map();
      let rx = 0, tx = 0;
      for (const f of flows) {
        const k = `${f.src_app} → ${f.dest_app}`;
        const p = pairs.get(k) || { k, rx: 0, tx: 0, vpcs: new Set() };
        p.rx += f.bytes_rx, p.tx += f.bytes_tx, p.vpcs.add(f.vpc_id);
        pairs.set(k, p);
        rx += f.bytes_rx, tx += f.bytes_tx;
      }
      totals.replaceChildren(
        h("div", { class: "card" }, h("div", { class: "k", text: "bytes received" }), h("div", { class: "v", id: "flows-rx", dataset: { bytes: rx }, text: fmtBytes(rx) })),
        h("div", { class: "card" }, h("div", { class: "k", text: "bytes sent" }), h("div", { class: "v", id: "flows-tx", dataset: { bytes: tx }, text: fmtBytes(tx) })),
        h("div", { class: "card" }, h("div", { class: "k", text: "flows" }), h("div", { class: "v", text: String(flows.length) })));
      const top = [...pairs.values()].sort((a, b) => b.rx + b.tx - (a.rx + a.tx)).slice(0, 50);
      body.replaceChildren(h("h2", { text: `Top talkers, hour ${hour}` }), h("table", {},
        h("thead", {}, h("tr", {}, ["src → dest", "bytes rx", "bytes tx", "total", "VPCs"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, top.map((p) => h("tr", {}, h("td", { text: p.k }), h("td", { text: p.rx.toLocaleString("en-US") }),
          h("td", { text: p.tx.toLocaleString("en-US") }), h("td", { text: fmtBytes(p.rx + p.tx) }), h("td", { text: String(p.vpcs.size) }))))));
      banner("flowd", null);
      el.dataset.state = "ready";
    } catch (e) {
      if (st.stopped) return;
      body.replaceChildren(h("p", { class: "error", text: `flowd unavailable: ${e.message}` }));
      banner("flowd", "flowd (flows) does not answer; the other views work.");
      el.dataset.state = "error";
    }
  }
  load();
  return { stop: () => ((st.stopped = true), st.ctl.abort(), banner("flowd", null)) };
}
