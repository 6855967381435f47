// What every portal page shares: words, formats (won, KST), the session, the API client with
// problem+json errors, safe DOM building, paginated tables, the menu by role and the page guard.
// The pages read the same JSON API as wallet apps; the API's policies decide what they get.

export const M = JSON.parse(document.getElementById("messages").textContent);
export const lang = document.documentElement.lang === "en" ? "en" : "ko";

export function t(key, vars = {}) {
  let text = M[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, value);
  return text;
}

// A state word of the API (a job's, a merchant's) in the reader's language, marked with the
// API's own word so scripts and tests can find it whatever the language.
export function state(word) {
  return h("span", { class: "state", dataset: { state: word } }, M[`state.${word}`] ?? word);
}

// ----------------------------------------------------------------------------- formats

// Whole won with thousands separators, e.g. ₩1,234,000 (amounts are integers: decimals() == 0).
export function won(amount) {
  if (amount === null || amount === undefined) return "—";
  const value = BigInt(amount);
  const sign = value < 0n ? "-" : "";
  const digits = (value < 0n ? -value : value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}₩${digits}`;
}

export function count(n) {
  return Number(n).toLocaleString("en-US");
}

const KST_FORMAT = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hour12: false,
});

// Every time is shown in Korea Standard Time, whatever the reader's browser says.
export function kst(unix) {
  if (unix === null || unix === undefined) return "—";
  return `${KST_FORMAT.format(new Date(Number(unix) * 1000))} KST`;
}

export function kstDay(unix) {
  return kst(unix).slice(0, 10);
}

export function short(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "—";
}

// ----------------------------------------------------------------------------- DOM

// Builds elements from data without innerHTML, so no API value can become markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function fill(target, ...children) {
  const el = typeof target === "string" ? $(target) : target;
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return el;
}

export function status(text) {
  fill("#status", text || "");
}

// ----------------------------------------------------------------------------- session

const SESSION = "dongne.session";

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION));
  } catch {
    return null;
  }
}

export function saveSession(value) {
  sessionStorage.setItem(SESSION, JSON.stringify(value));
}

// Signing out forgets this browser's portal state too (the city chosen, a shop's name): the
// next person at a shared counter computer starts clean.
export function clearSession() {
  sessionStorage.removeItem(SESSION);
  sessionStorage.removeItem("dongne.demo");
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith("dongne.")) localStorage.removeItem(key);
  }
}

// The wallet this session signed in with: the browser's, or on the demo network the demo key
// kept for this tab only (it exists on loopback demo networks alone).
export async function walletProvider() {
  const demo = JSON.parse(sessionStorage.getItem("dongne.demo") || "null");
  if (demo) {
    const wallet = await import("/portal/static/build/wallet.js");
    return wallet.demoProvider(demo.private_key, demo.rpc_url, demo.chain_id);
  }
  if (!window.ethereum) throw new Error(t("signin.no_wallet"));
  return window.ethereum;
}

// ----------------------------------------------------------------------------- API

export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || `HTTP${status}`;
    this.title = body.title || "";
    this.detail = body.detail || "";
    this.args = body.args || {};
  }
}

async function refresh() {
  const current = session();
  if (!current?.refresh_token) return false;
  const answer = await fetch("/v1/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  });
  if (!answer.ok) {
    clearSession();
    return false;
  }
  saveSession(await answer.json());
  return true;
}

// Calls the API with the session's token; a problem+json answer becomes a Problem. An expired
// access token is refreshed once with the refresh token.
export async function api(path, { method = "GET", json, body, headers = {}, raw = false } = {}) {
  const send = async () => {
    const all = { ...headers };
    const current = session();
    if (current) all.authorization = `Bearer ${current.access_token}`;
    let payload = body;
    if (json !== undefined) {
      all["content-type"] = "application/json";
      payload = JSON.stringify(json);
    }
    return fetch(path, { method, headers: all, body: payload });
  };
  let answer = await send();
  if (answer.status === 401 && session() && !path.startsWith("/v1/auth/") && (await refresh())) {
    answer = await send();
  }
  if (!answer.ok) {
    let problem = {};
    try {
      problem = await answer.json();
    } catch {
      problem = {};
    }
    throw new Problem(answer.status, problem);
  }
  if (raw) return answer;
  return answer.status === 204 ? null : answer.json();
}

// The human text of an error: the portal's words for its problem code, else its own title.
export function problemText(error) {
  if (error instanceof Problem) {
    const known = M[`problem.${error.code}`];
    return known || error.title || error.message;
  }
  if (error && (error.code === 4001 || /reject|denied/i.test(error.message || ""))) {
    return t("problem.WalletError");
  }
  return error?.message || String(error);
}

export function errorBox(error) {
  const detail = error instanceof Problem ? error.detail : "";
  const code = error instanceof Problem ? error.code : error?.code ? String(error.code) : "";
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, problemText(error)),
    code ? h("code", { class: "code" }, code) : null,
    detail ? h("p", {}, detail) : null,
  );
}

export function showError(target, error) {
  fill(target, errorBox(error));
}

// ----------------------------------------------------------------------------- tables

// A table of `rows` with `columns` ({label, value(row), num}), `pageSize` rows a page, and the
// `empty` explanation when there is nothing to show.
export function table(columns, rows, { pageSize = 10, empty = t("app.empty"), caption } = {}) {
  const box = h("div", { class: "table" });
  if (!rows.length) {
    box.append(h("p", { class: "empty" }, empty));
    return box;
  }
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  let current = 0;
  const body = h("tbody");
  const where = h("span", { class: "where", "aria-live": "polite" });
  const prev = h("button", { type: "button", onclick: () => show(current - 1) }, t("app.prev"));
  const next = h("button", { type: "button", onclick: () => show(current + 1) }, t("app.next"));
  const show = (index) => {
    current = Math.min(Math.max(index, 0), pages - 1);
    const slice = rows.slice(current * pageSize, (current + 1) * pageSize);
    body.replaceChildren(
      ...slice.map((row) =>
        h("tr", {}, ...columns.map((c) => h("td", { class: c.num ? "num" : null }, c.value(row)))),
      ),
    );
    where.textContent = t("app.page_of", { page: current + 1, pages });
    prev.disabled = current === 0;
    next.disabled = current === pages - 1;
  };
  box.append(
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      body,
    ),
  );
  if (pages > 1) box.append(h("nav", { class: "pager", "aria-label": caption || t("app.menu") }, prev, where, next));
  show(0);
  return box;
}

export function figures(items) {
  return h(
    "dl",
    { class: "figures" },
    ...items.map(([label, value, name]) =>
      h("div", { class: "figure", dataset: name ? { figure: name } : {} }, h("dt", {}, label), h("dd", {}, value)),
    ),
  );
}

export function progress(label, pct) {
  const value = Math.max(0, Math.min(100, Number(pct) || 0));
  return h(
    "div",
    { class: "progress" },
    h("span", { class: "label" }, `${label} ${value.toFixed(1)}%`),
    h("progress", { max: "100", value: value.toFixed(1), "aria-label": label }, `${value}%`),
  );
}

// ----------------------------------------------------------------------------- roles, menu

const OFFICER = ["DEFAULT_ADMIN_ROLE", "PROGRAM_MANAGER_ROLE", "MERCHANT_REGISTRAR_ROLE",
  "ISSUER_ROLE", "PAUSER_ROLE", "FRAUD_OFFICER_ROLE"];
const AUDITOR = ["AUDITOR_ROLE", "FRAUD_OFFICER_ROLE"];

// The tokens (lower-case) in which `me` may use each audience's pages.
export function audiences(me) {
  const holding = (names) =>
    Object.entries(me?.roles || {}).filter(([, held]) => held.some((r) => names.includes(r))).map(([token]) => token);
  return {
    anyone: ["*"],
    officer: holding(OFFICER),
    auditor: holding(AUDITOR),
    merchant: (me?.merchant_in || []).map((token) => token.toLowerCase()),
    resident: me?.address && (me.kind === "citizen" || me.kind === "institution") ? ["*"] : [],
  };
}

export function homeOf(me) {
  const can = audiences(me);
  if (can.officer.length) return "/portal/officer/dashboard";
  if (can.auditor.length) return "/portal/auditor/reconcile";
  if (can.merchant.length) return "/portal/merchant/sales";
  if (can.resident.length) return "/portal/resident/wallet";
  return null;
}

function renderMenu(me) {
  const can = audiences(me);
  const nav = $("#nav");
  let any = false;
  for (const group of nav.querySelectorAll("[data-audience]")) {
    const shown = (can[group.dataset.audience] || []).length > 0;
    group.hidden = !shown;
    any ||= shown;
  }
  nav.hidden = !any;
  const who = $("#who");
  const out = $("#signout");
  if (me?.address) {
    fill(who, `${t("app.signed_in_as")} `, h("code", { title: me.address }, short(me.address)));
    out.hidden = false;
  } else {
    fill(who, h("a", { href: "/portal" }, t("app.signin")));
    out.hidden = true;
  }
}

async function signOut() {
  try {
    await api("/v1/auth/logout", { method: "POST" });
  } catch {
    // Already closed or expired: forgetting it here is all that is left to do.
  }
  clearSession();
  window.location.assign("/portal");
}

function refuse(audience, error) {
  fill(
    "#content",
    h(
      "div",
      { class: "refused", role: "alert" },
      h("strong", {}, t("app.refused")),
      h("p", {}, t("app.refused_hint", { who: t(`section.${audience}`) })),
      error ? errorBox(error) : null,
      h("p", {}, h("a", { href: "/portal" }, t("app.signin"))),
    ),
  );
}

function cityPicker(tokens, municipalities, chosen) {
  const known = municipalities.filter((m) => tokens.includes("*") || tokens.includes(m.token.toLowerCase()));
  const select = h(
    "select",
    { id: "city", onchange: (e) => {
      const url = new URL(window.location.href);
      url.searchParams.set("token", e.target.value);
      localStorage.setItem("dongne.token", e.target.value);
      window.location.assign(url);
    } },
    ...known.map((m) =>
      h("option", { value: m.token.toLowerCase(), selected: m.token.toLowerCase() === chosen },
        `${String(m.region).padStart(5, "0")} ${m.name}`),
    ),
  );
  fill("#city-picker", h("label", { for: "city" }, `${t("app.city")} `), select);
}

// Wires the header and decides whether this visitor may use the page. Answers the context
// ({me, tokens, token, city, municipalities}) or null after showing why not.
export async function boot(audience) {
  $("#signout").addEventListener("click", signOut);
  let me = null;
  if (session()) {
    try {
      me = await api("/v1/me");
    } catch {
      clearSession();
    }
  }
  renderMenu(me);
  if (audience === "anyone") return { me };
  if (!me?.address) {
    refuse(audience, new Problem(401, { code: "AuthRequired", title: "AuthRequired" }));
    return null;
  }
  const tokens = audiences(me)[audience];
  if (!tokens.length) {
    refuse(audience);
    return null;
  }
  const municipalities = await api("/v1/tokens");
  const asked = new URL(window.location.href).searchParams.get("token")?.toLowerCase();
  const remembered = localStorage.getItem("dongne.token");
  const allowed = (tk) => tk && (tokens.includes("*") || tokens.includes(tk)) && municipalities.some((m) => m.token.toLowerCase() === tk);
  const token = [asked, remembered, ...tokens, municipalities[0]?.token.toLowerCase()].find(allowed) || null;
  if (audience !== "resident") cityPicker(tokens, municipalities, token);
  const city = municipalities.find((m) => m.token.toLowerCase() === token) || null;
  return { me, tokens, token, city, municipalities };
}

// Links to a page of the same city.
export function link(path, token, params = {}) {
  const url = new URL(path, window.location.origin);
  if (token) url.searchParams.set("token", token);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.pathname + url.search;
}

// Downloads an authorised file (a ledger, a settlement batch) through fetch: a plain link
// would carry no Bearer token.
export async function download(path, filename) {
  const answer = await api(path, { raw: true });
  const blob = await answer.blob();
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob;
}
