// Deployments (orchd, through apid's front door): the list with a create form and delete buttons; one
// deployment's nodes by state (a live count per state and the node table) and its events, newest first.
// orchd has no long poll, so an open deployment is asked again every second while nodes move, every 5 s after.
import { banner, getJSON, h } from "../lib/api.js";

const STATES = ["PENDING", "PROVISIONING", "CONFIGURING", "RUNNING", "FAILED"];

export function mount(el, params) {
  return params.id ? detail(el, Number(params.id)) : list(el);
}

function list(el) {
  const st = { stopped: false, ctl: new AbortController(), timer: 0 };
  const name = h("input", { name: "name", required: true, maxlength: "255", "aria-label": "Name", id: "dep-name" });
  const desc = h("input", { name: "description", "aria-label": "Description", id: "dep-desc" });
  const count = h("input", { name: "target_node_count", type: "number", min: "1", max: "1000", value: "10", required: true, "aria-label": "Nodes", id: "dep-count" });
  const msg = h("span", { role: "status", id: "dep-msg" });
  const form = h("form", { class: "inline", id: "dep-form" },
    h("label", {}, "name", name), h("label", {}, "description", desc), h("label", {}, "nodes", count),
    h("button", { type: "submit", text: "Create deployment" }), msg);
  const body = h("div", { id: "dep-list" });
  el.append(h("h1", { text: "Deployments" }), form, body);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.textContent = "creating…";
    msg.className = "muted";
    try {
      const d = await getJSON("/deployments", { method: "POST", body: { name: name.value, description: desc.value || null, target_node_count: Number(count.value) } });
      msg.textContent = `created ${d.name} (#${d.id})`;
      name.value = desc.value = "";
      load();
    } catch (e) {
      msg.textContent = e.message;
      msg.className = "error";
    }
  });

  async function remove(d) {
    if (!window.confirm(`Delete deployment ${d.name} (#${d.id}) and its nodes?`)) return;
    try {
      await fetch(`/deployments/${d.id}`, { method: "DELETE" });
    } finally {
      load();
    }
  }

  async function load() {
    clearTimeout(st.timer);
    try {
      const ds = await getJSON("/deployments?limit=1000", { signal: st.ctl.signal });
      body.replaceChildren(ds.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["deployment", "nodes", "created", ""].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, ds.map((d) => h("tr", { dataset: { deployment: d.id } },
          h("td", {}, h("a", { href: `#/deployments/${d.id}`, text: `${d.name} (#${d.id})` })),
          h("td", { text: String(d.target_node_count) }),
          h("td", { text: d.created_at }),
          h("td", {}, h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${d.name}`, onclick: () => remove(d) }))))))
        : h("p", { class: "muted", text: "No deployments yet: create one above." }));
      banner("orchd", null);
      el.dataset.state = "ready";
    } catch (e) {
      if (st.stopped) return;
      body.replaceChildren(h("p", { class: "error", text: `orchd unavailable: ${e.message}` }));
      banner("orchd", "orchd (deployments) does not answer; the other views work.");
      el.dataset.state = "error";
    }
    if (!st.stopped) st.timer = setTimeout(load, 5000);
  }
  load();
  return { stop: () => ((st.stopped = true), st.ctl.abort(), clearTimeout(st.timer), banner("orchd", null)) };
}

function detail(el, id) {
  const st = { stopped: false, ctl: new AbortController(), timer: 0 };
  const title = h("h1", { text: `Deployment #${id}` });
  const counts = h("div", { class: "cards", id: "dep-counts" });
  const nodes = h("div", { id: "dep-nodes" });
  const events = h("ol", { class: "timeline", id: "dep-events" });
  el.append(title, h("div", { class: "toolbar" }, h("a", { href: "#/deployments", text: "← deployments" }),
    h("a", { href: "#/bottlenecks", text: "bottlenecks" })), counts,
    h("div", { class: "cols" }, h("section", {}, h("h2", { text: "Nodes" }), nodes), h("section", {}, h("h2", { text: "Events" }), events)));

  async function load() {
    let moving = false;
    try {
      const [d, n, ev] = await Promise.all([
        getJSON(`/deployments/${id}`, { signal: st.ctl.signal }).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
        getJSON(`/deployments/${id}/nodes`, { signal: st.ctl.signal }).catch((e) => (e.status === 404 ? { nodes: [] } : Promise.reject(e))),
        getJSON(`/deployments/${id}/events?limit=200`, { signal: st.ctl.signal }),
      ]);
      title.textContent = d ? `${d.name} (#${id})` : `Deployment #${id} (deleted)`;
      const by = Object.fromEntries(STATES.map((s) => [s, 0]));
      for (const x of n.nodes) by[x.state]++;
      moving = by.PENDING + by.PROVISIONING + by.CONFIGURING > 0;
      counts.replaceChildren(...STATES.map((s) => h("div", { class: "card", dataset: { state: s } },
        h("div", { class: "k", text: s.toLowerCase() }), h("div", { class: `v state-${s}`, text: String(by[s]) }))));
      nodes.replaceChildren(n.nodes.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["node", "state", "hostname", "address", "since"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, n.nodes.map((x) => h("tr", { dataset: { node: x.id } },
          h("td", { text: x.node_id }), h("td", { class: `text state-${x.state}`, text: x.state }),
          h("td", { class: "text" }, x.state === "RUNNING" ? h("a", { href: `#/switch/${encodeURIComponent(x.hostname)}`, text: x.hostname }) : x.hostname),
          h("td", { class: "text", text: x.ip_address || "–" }), h("td", { text: x.state_changed_at })))))
        : h("p", { class: "muted", text: "No nodes." }));
      events.replaceChildren(...ev.events.map((e) => h("li", {}, h("span", { class: "muted", text: `${e.created_at} ` }),
        h("b", { text: e.event_type }), ` ${e.message}`)));
      banner("orchd", null);
      el.dataset.state = "ready";
    } catch (e) {
      if (st.stopped) return;
      banner("orchd", "orchd (deployments) does not answer; the other views work.");
      el.dataset.state = "error";
    }
    if (!st.stopped) st.timer = setTimeout(load, moving ? 1000 : 5000);
  }
  load();
  return { stop: () => ((st.stopped = true), st.ctl.abort(), clearTimeout(st.timer), banner("orchd", null)) };
}
