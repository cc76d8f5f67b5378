// Fabric: every switch x the numeric counters, coloured by how far each value is from the fabric's median (the
// robust statistics of bottleneck/), sortable, filterable by name, stale rows marked. It follows the front door's
// long poll (If-None-Match + ?wait=30): a new generation is drawn as soon as it is published, and nothing is asked
// in between. Only the rows in sight are in the DOM (a virtual table), so 10,000 switches stay responsive.
// Measurements for the benchmark: window.fabtel.perf.{firstRenderMs, frames[]} (ms, per generation drawn).
import { HttpError, banner, fmtNum, h, setQuery } from "../lib/api.js";
import { robust, zscore, zclass } from "../lib/stats.js";

const ROW_PX = 25;
const OVERSCAN = 10;

export function mount(el, { query }) {
  const st = {
    sort: query.get("sort") || "switch_id",
    dir: query.get("dir") === "desc" ? -1 : 1,
    q: query.get("q") || "",
    rows: [], cols: [], stats: {}, order: [], gen: 0, collected: "", etag: null,
    stopped: false, ctl: new AbortController(), raf: 0,
  };
  const perf = (window.fabtel = window.fabtel || {}).perf = { firstRenderMs: null, frames: [], generations: 0 };
  const filter = h("input", { type: "search", placeholder: "filter switches", "aria-label": "Filter switches by name", value: st.q });
  const count = h("span", { class: "muted", id: "fabric-count" });
  const gen = h("span", { class: "muted", id: "fabric-gen" });
  const thead = h("thead");
  const tbody = h("tbody");
  const scroller = h("div", { class: "scroller", tabindex: "0", "aria-label": "Switches" }, h("table", { id: "fabric-table" }, thead, tbody));
  el.append(
    h("h1", { text: "Fabric" }),
    h("div", { class: "toolbar" }, filter, count, gen,
      h("span", { class: "legend", "aria-hidden": "true" }, "below median", h("span", { class: "l3", text: "≪" }),
        h("span", { class: "l1", text: "<" }), h("span", { class: "h1", text: ">" }), h("span", { class: "h3", text: "≫" }), "above")),
    scroller,
    h("p", { class: "note", text: "Colours: the robust z of each value against the fabric's median (|z| ≥ 2 mild, ≥ 3.5 flagged). Click a header to sort, a switch for its history." }),
  );

  filter.addEventListener("input", () => {
    st.q = filter.value;
    setQuery({ sort: st.sort, dir: st.dir < 0 ? "desc" : "", q: st.q });
    reorder();
    draw();
  });
  scroller.addEventListener("scroll", () => {
    if (!st.raf) st.raf = requestAnimationFrame(() => ((st.raf = 0), drawRows()));
  });

  function header() {
    const cell = (key, label) => {
      const arrow = st.sort === key ? (st.dir > 0 ? " ▲" : " ▼") : "";
      const b = h("button", { type: "button", text: label + arrow, "aria-label": `Sort by ${label}` });
      b.addEventListener("click", () => {
        st.dir = st.sort === key ? -st.dir : 1;
        st.sort = key;
        setQuery({ sort: st.sort, dir: st.dir < 0 ? "desc" : "", q: st.q });
        reorder();
        draw();
      });
      return h("th", { scope: "col", "aria-sort": st.sort === key ? (st.dir > 0 ? "ascending" : "descending") : "none" }, b);
    };
    thead.replaceChildren(h("tr", {}, cell("switch_id", "switch"), st.cols.map((c) => cell(c, c))));
  }

  function reorder() {
    const q = st.q.toLowerCase();
    const idx = [];
    st.rows.forEach((r, i) => (!q || r.switch_id.toLowerCase().includes(q)) && idx.push(i));
    const key = st.sort, dir = st.dir;
    idx.sort((a, b) => {
      const x = st.rows[a][key], y = st.rows[b][key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    st.order = idx;
  }

  function rowEl(r) {
    const cells = [h("td", {}, h("a", { href: `#/switch/${encodeURIComponent(r.switch_id)}`, text: r.switch_id }))];
    for (const c of st.cols) {
      const v = r[c];
      cells.push(h("td", { class: zclass(zscore(v, st.stats[c])) || undefined, text: fmtNum(v) }));
    }
    return h("tr", { class: r.stale ? "stale" : r.present === false ? "absent" : undefined, dataset: { switch: r.switch_id } }, cells);
  }

  function drawRows() {
    const n = st.order.length;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_PX) - OVERSCAN);
    const last = Math.min(n, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_PX) + OVERSCAN);
    const span = st.cols.length + 1;
    const top = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: span }));
    const bottom = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: span }));
    top.firstChild.style.height = `${first * ROW_PX}px`;
    bottom.firstChild.style.height = `${(n - last) * ROW_PX}px`;
    const rows = [top];
    for (let i = first; i < last; i++) rows.push(rowEl(st.rows[st.order[i]]));
    rows.push(bottom);
    tbody.replaceChildren(...rows);
  }

  function draw() {
    header();
    count.textContent = `${st.order.length} of ${st.rows.length} switches`;
    gen.textContent = `generation ${st.gen}`;
    el.dataset.generation = st.gen;
    drawRows();
  }

  function accept(doc) {
    st.rows = doc.metrics || [];
    st.gen = doc.generation;
    const cols = new Set();
    for (const r of st.rows.slice(0, 50)) for (const [k, v] of Object.entries(r)) if (typeof v === "number") cols.add(k);
    st.cols = [...cols];
    st.stats = {};
    for (const c of st.cols) st.stats[c] = robust(st.rows.map((r) => r[c]));
    reorder();
    draw();
  }

  async function loop() {
    while (!st.stopped) {
      try {
        const url = st.etag ? "/telemetry/ListMetrics?wait=30" : "/telemetry/ListMetrics";
        const r = await fetch(url, { signal: st.ctl.signal, cache: "no-store", headers: st.etag ? { "If-None-Match": st.etag } : {} });
        const t0 = performance.now();
        if (r.status === 304) continue;
        if (!r.ok) throw new HttpError(r.status, (await r.json().catch(() => ({ error: { message: r.statusText } }))).error.message);
        st.etag = r.headers.get("ETag");
        accept(await r.json());
        banner("fabric", null);
        el.dataset.state = "ready";
        await new Promise((res) => requestAnimationFrame(() => res()));
        const t1 = performance.now();
        perf.frames.push(t1 - t0);
        perf.generations++;
        if (perf.firstRenderMs === null) perf.firstRenderMs = t1;
      } catch (e) {
        if (st.stopped) return;
        el.dataset.state = st.rows.length ? "ready" : "error";
        banner("fabric", `Telemetry unavailable (${e.message}); retrying.`);
        if (!st.rows.length) count.textContent = "no data yet";
        st.etag = null;
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  }
  loop();
  return {
    stop() {
      st.stopped = true;
      st.ctl.abort();
      if (st.raf) cancelAnimationFrame(st.raf);
      banner("fabric", null);
    },
  };
}
