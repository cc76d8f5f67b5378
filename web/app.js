// fabtel dashboard: the router, the status bar and the calm error banner. Each view is a module with
// mount(el, params) returning an object with stop(); a view owns its timers and requests and ends them in stop().
// Every request goes to this page's origin (apid, the front door); nothing is loaded from anywhere else.
import * as fabric from "./views/fabric.js";
import * as sw from "./views/switch.js";
import * as bottlenecks from "./views/bottlenecks.js";
import * as deployments from "./views/deployments.js";
import * as flows from "./views/flows.js";
import * as service from "./views/service.js";
import { banner, getJSON, fmtAge } from "./lib/api.js";

const ROUTES = [
  { re: /^\/fabric$/, view: fabric, nav: "fabric" },
  { re: /^\/switch\/([^/]+)$/, view: sw, nav: "fabric", keys: ["name"] },
  { re: /^\/bottlenecks$/, view: bottlenecks, nav: "bottlenecks" },
  { re: /^\/deployments$/, view: deployments, nav: "deployments" },
  { re: /^\/deployments\/(\d+)$/, view: deployments, nav: "deployments", keys: ["id"] },
  { re: /^\/flows$/, view: flows, nav: "flows" },
  { re: /^\/service$/, view: service, nav: "service" },
];

const main = document.getElementById("view");
let current = null;

// "#/switch/sw-05?window=3600" -> { path: "/switch/sw-05", query: URLSearchParams }
function parseHash() {
  const h = location.hash.replace(/^#/, "") || "/fabric";
  const q = h.indexOf("?");
  return { path: q < 0 ? h : h.slice(0, q), query: new URLSearchParams(q < 0 ? "" : h.slice(q + 1)) };
}

function route() {
  const { path, query } = parseHash();
  if (current) current.stop();
  current = null;
  main.replaceChildren();
  main.dataset.state = "loading";
  for (const r of ROUTES) {
    const m = path.match(r.re);
    if (!m) continue;
    const params = { query };
    (r.keys || []).forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.nav === r.nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    current = r.view.mount(main, params);
    return;
  }
  location.replace("#/fabric");
}

// The status bar: generation, data age and ingest state from apid's /health (every 2 s: it changes that slowly).
async function status() {
  const gen = document.getElementById("st-gen"), age = document.getElementById("st-age"), ing = document.getElementById("st-ingest");
  try {
    const h = await getJSON("/health", { okStatuses: [200, 503] });
    gen.textContent = h.generation ?? "–";
    age.textContent = h.data_age_ms == null ? "–" : fmtAge(h.data_age_ms);
    ing.textContent = h.ingest ? `${h.ingest} (${h.status})` : h.status;
    ing.className = h.status === "ok" ? "ok" : "down";
    banner("apid", null);
  } catch (e) {
    gen.textContent = age.textContent = "–";
    ing.textContent = "unreachable";
    ing.className = "down";
    banner("apid", "apid does not answer; retrying.");
  }
  setTimeout(status, 2000);
}

window.addEventListener("hashchange", route);
route();
status();
