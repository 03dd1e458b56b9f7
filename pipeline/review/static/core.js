// What every part of the review page shares: DOM helpers, the JSON API with its CSRF token,
// the interface language and the page's facts about the user. No state lives here.

export const $ = (sel, root = document) => root.querySelector(sel);
export const main = $("#main");
const MESSAGES = JSON.parse($("#messages").textContent);
// Empty in single-token mode, where the name is typed on the page instead.
export const ACCOUNT = document.body.dataset.account;
export const ROLE = document.body.dataset.role;
// The page hides what the role may not do; the server refuses it anyway.
export const MAY = { edit: true, withhold: ROLE !== "reviewer", export: ROLE !== "reviewer" };

// The interface in the server's chosen language: English source strings looked up in the catalogue.
// Marks a string for the catalogue that is translated later, by t().
export const N_ = (text) => text;
export function t(text, vars = {}) {
  return (MESSAGES[text] || text).replace(/\{(\w+)\}/g, (m, k) =>
    k in vars ? String(vars[k]) : m,
  );
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v !== null && v !== undefined && v !== false)
      node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity))
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// A list table (interviews, accounts): a header row of ``heads``, then ``body`` (a tbody).
export function listTable(heads, body) {
  const head = el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h))));
  return el("table", { class: "list" }, head, body);
}

export async function api(method, url, body) {
  const init = { method, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers = {
      "Content-Type": "application/json",
      "X-CSRFToken": $('meta[name="csrf-token"]').content,
    };
    init.body = JSON.stringify(body);
  }
  const reply = await fetch(url, init);
  let data = null;
  try {
    data = await reply.json();
  } catch (e) {
    /* empty body */
  }
  return { ok: reply.ok, status: reply.status, data };
}

export function clock(seconds) {
  const m = Math.floor(seconds / 60),
    s = seconds - m * 60;
  return `${String(m).padStart(2, "0")}:${s.toFixed(1).padStart(4, "0")}`;
}

export function setState(text, error = false) {
  const node = $("#save-state");
  node.textContent = text;
  node.classList.toggle("error", error);
}

export const STATUS_NAMES = () => ({
  unreviewed: t("unreviewed"),
  in_progress: t("in progress"),
  reviewed: t("reviewed"),
});
