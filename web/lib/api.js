// Requests to apid and small formatters shared by the views.

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET (or another method) a JSON document; throws HttpError with fabtel's error message on a non-2xx.
export async function getJSON(path, { method = "GET", body, signal, headers = {}, okStatuses = [] } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let doc = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch (e) {
    doc = null;
  }
  if (!r.ok && !okStatuses.includes(r.status)) {
    const msg = doc && doc.error ? doc.error.message : `${r.status} ${r.statusText}`;
    throw new HttpError(r.status, msg);
  }
  return doc;
}

// A long poll: resolves with { status, etag, doc } at the next generation (or 304 after `wait` seconds).
export async function longPoll(path, etag, wait, signal) {
  const sep = path.includes("?") ? "&" : "?";
  const r = await fetch(etag ? `${path}${sep}wait=${wait}` : path, {
    signal,
    cache: "no-store",
    headers: etag ? { "If-None-Match": etag } : {},
  });
  if (r.status === 304) return { status: 304, etag };
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      msg = (await r.json()).error.message;
    } catch (e) {
      /* keep the status line */
    }
    throw new HttpError(r.status, msg);
  }
  return { status: r.status, etag: r.headers.get("ETag"), doc: await r.json() };
}

export function fmtAge(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

export function fmtNum(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(2) : v.toPrecision(4);
}

// Axis labels: three significant digits with k, M, G, T, P, E.
export function fmtShort(v) {
  const a = Math.abs(v);
  if (a < 1000) return Number.isInteger(v) ? String(v) : v.toPrecision(3).replace(/\.?0+$/, "");
  const u = ["k", "M", "G", "T", "P", "E"];
  let i = -1, x = v;
  while (Math.abs(x) >= 1000 && i < u.length - 1) (x /= 1000), i++;
  return `${x.toPrecision(3).replace(/\.?0+$/, "")}${u[i]}`;
}

export function fmtBytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < u.length - 1) (n /= 1000), i++;
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

// Element helper: h("td", { class: "x", text: "1" }, child...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

// Replace the hash's query (keeping the path) without a new history entry for every keystroke.
export function setQuery(params, replace = true) {
  const path = (location.hash.replace(/^#/, "") || "/fabric").split("?")[0];
  const q = new URLSearchParams(params);
  for (const [k, v] of [...q.entries()]) if (v === "" || v === "undefined") q.delete(k);
  const s = q.toString();
  const url = `#${path}${s ? "?" + s : ""}`;
  if (replace) history.replaceState(null, "", url);
  else location.hash = url;
}

// The calm error banner: one line per source of trouble; a view sets its own and clears it when things work again.
const troubles = new Map();
export function banner(source, message) {
  if (message) troubles.set(source, message);
  else troubles.delete(source);
  const el = document.getElementById("banner");
  el.hidden = troubles.size === 0;
  el.textContent = [...troubles.values()].join(" ");
}
