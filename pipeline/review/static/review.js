// The review page: plain JS, no build step. The server keeps every version; this page only
// sends what the reviewer changed, with the revision it was based on, and shows refusals.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");
const NAME_KEY = "testimony-reviewer";
const MESSAGES = JSON.parse($("#messages").textContent);
const ACCOUNT = document.body.dataset.account;  // empty in single-token mode: the name is typed instead
const ROLE = document.body.dataset.role;
const MAY = { edit: true, withhold: ROLE !== "reviewer", export: ROLE !== "reviewer" };

// The interface in the server's chosen language: English source strings looked up in the catalogue.
const N_ = (text) => text;  // marks a string for the catalogue that is translated later, by t()
function t(text, vars = {}) {
  return (MESSAGES[text] || text).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}
const RATES = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(method, url, body) {
  const init = { method, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json", "X-CSRFToken": $('meta[name="csrf-token"]').content };
    init.body = JSON.stringify(body);
  }
  const reply = await fetch(url, init);
  let data = null;
  try { data = await reply.json(); } catch (e) { /* empty body */ }
  return { ok: reply.ok, status: reply.status, data };
}

function clock(seconds) {
  const m = Math.floor(seconds / 60), s = seconds - m * 60;
  return `${String(m).padStart(2, "0")}:${s.toFixed(1).padStart(4, "0")}`;
}

function setState(text, error = false) {
  const node = $("#save-state");
  node.textContent = text;
  node.classList.toggle("error", error);
}

// Reviewer name: asked once per browser, kept in localStorage ---------------------------
function reviewer() { return ACCOUNT || localStorage.getItem(NAME_KEY) || ""; }

function askName() {
  return new Promise((resolve) => {
    const dialog = $("#name-dialog");
    $("#name-input").value = reviewer();
    dialog.addEventListener("close", () => {
      const name = $("#name-input").value.trim();
      if (name) localStorage.setItem(NAME_KEY, name);
      showName();
      resolve(reviewer());
    }, { once: true });
    dialog.showModal();
  });
}

function showName() {
  if (ACCOUNT) return;  // the account's name, shown by the server
  $("#who").textContent = reviewer() ? t("Reviewing as {name}", { name: reviewer() }) : t("Set your name");
}
if (!ACCOUNT) $("#who").addEventListener("click", askName);

// The pipeline's flags (pipeline/asr.py, transcript.py), named here so the catalogue translates them.
N_("low confidence"); N_("uncertain"); N_("repetition"); N_("possible hallucination in silence");
N_("unsupported language: full review needed"); N_("translation missing");

// The list of interviews, filtered by case, status and flag count (kept in the address) -----
const STATUS_NAMES = () => ({ unreviewed: t("unreviewed"), in_progress: t("in progress"), reviewed: t("reviewed") });

async function showList() {
  $("#title").textContent = "";
  const { ok, data } = await api("GET", "/api/interviews");
  if (!ok) { main.textContent = data ? data.error : t("Could not load the interviews."); return; }
  if (!data.length) { main.append(el("p", {}, t("No transcripts yet: process recordings first."))); return; }
  const query = new URLSearchParams(location.search);
  const cases = [...new Set(data.map((i) => i.case_id))].sort();
  const pick = (name, options) => el("select", { name, "aria-label": name, onchange: filter },
    el("option", { value: "" }, t("all")), options.map(([v, label]) => el("option", { value: v, selected: query.get(name) === v }, label)));
  const filters = el("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    el("label", {}, t("Case"), " ", pick("case", cases.map((c) => [c, c]))),
    el("label", {}, t("Status"), " ", pick("status", Object.entries(STATUS_NAMES()))),
    el("label", {}, t("At least this many flagged"), " ",
      el("input", { name: "flagged", type: "number", min: 0, value: query.get("flagged") || "", oninput: filter, style: "width: 5em" })));
  const body = el("tbody");
  main.replaceChildren(filters, el("table", { class: "list" },
    el("thead", {}, el("tr", {}, [t("Case"), t("Interview"), t("Review"), t("Segments reviewed"), t("Flagged"), t("Reviewers")].map((h) => el("th", {}, h)))),
    body));
  function filter() {
    const form = new FormData(filters), wanted = new URLSearchParams();
    for (const [k, v] of form) if (v) wanted.set(k, v);
    history.replaceState(null, "", wanted.toString() ? `/?${wanted}` : "/");
    const least = Number(wanted.get("flagged") || 0);
    const shown = data.filter((i) => (!wanted.get("case") || i.case_id === wanted.get("case"))
      && (!wanted.get("status") || i.status === wanted.get("status")) && i.flagged >= least);
    body.replaceChildren(...shown.map((i) => el("tr", {},
      el("td", {}, i.case_id),
      el("td", {}, el("a", { href: `/interviews/${encodeURIComponent(i.interview_id)}` }, i.interview_id)),
      el("td", { class: `status-${i.status}` }, STATUS_NAMES()[i.status] || i.status),
      el("td", {}, el("progress", { max: i.segments, value: i.reviewed_segments }), ` ${i.reviewed_segments}/${i.segments}`),
      el("td", {}, i.flagged),
      el("td", {}, i.reviewers.join(", ")))));
  }
  filter();
  if (ROLE === "admin") main.append(await accountsSection());
}

// One interview ------------------------------------------------------------------------------
const view = { id: null, data: null, segs: [], player: null, playing: null };

function isFlagged(s) { return s.data.flags.length > 0 && !s.data.reviewed; }

const KEYS = () => [["Esc", t("play / pause")], ["F1", t("back 5 s")], ["F2", t("forward 5 s")], ["F3", t("slower")], ["F4", t("faster")],
  ["Alt+↓", t("next segment")], ["Alt+↑", t("previous segment")], ["F8", t("next flagged")], ["Shift+F8", t("previous flagged")],
  ["Ctrl+Enter", t("segment reviewed, go to next")], ["Ctrl+S", t("save now")], ["Alt+T", t("re-translate")],
  ["Alt+S", t("split at cursor")], ["Alt+M", t("merge with next")], ["Alt+H", t("history")], ["Alt+P", t("play segment")]];

async function showInterview(id) {
  view.id = id;
  const { ok, data } = await api("GET", `/api/interviews/${encodeURIComponent(id)}`);
  if (!ok) { main.textContent = data ? data.error : t("Could not load the interview."); return; }
  const player = el(data.media.kind, { id: "player", controls: true, preload: "auto", src: data.media.url });
  player.addEventListener("error", () => setState(t("This browser cannot play {name}; the text can still be edited.", { name: data.media.name }), true));
  player.addEventListener("timeupdate", followPlayback);
  player.addEventListener("timeupdate", () => followWords(player.currentTime));
  player.addEventListener("ratechange", () => { $("#rate").textContent = `${player.playbackRate}×`; });
  view.player = player;
  main.replaceChildren(el("div", { class: "layout" },
    el("section", { class: "player" }, player,
      el("div", { class: "controls" },
        el("span", {}, t("Speed"), " ", el("b", { id: "rate" }, "1×")),
        el("span", { id: "progress" }),
        el("button", { type: "button", id: "mark-interview", onclick: toggleInterviewReviewed })),
      el("div", { id: "speakers" }),
      MAY.withhold ? el("div", { class: "press" },
        el("button", { type: "button", id: "withhold-term", onclick: withholdTerm }, t("Withhold a name…")),
        el("button", { type: "button", id: "export", onclick: exportInterview }, t("Export for the press"))) : "",
      (data.warnings || []).map((w) => el("p", { class: "warning", role: "alert" }, w)),
      el("p", { class: "hint" }, t("Also editable in any text editor: {file}", { file: data.review_file })),
      el("ul", { class: "keys" }, KEYS().map(([k, what]) => el("li", {}, el("kbd", {}, k), " ", what)))),
    el("section", { id: "segments" })));
  render(data);
  if (!goToHash() && view.segs.length) view.segs[0].el.querySelector("textarea.src").focus({ preventScroll: true });
}

// #segment-<n>: scroll to that segment, focus it and seek the player there.
function goToHash() {
  const m = location.hash.match(/^#segment-(\d+)$/);
  const s = m && view.segs.find((x) => x.data.id === Number(m[1]));
  if (!s) return false;
  view.segs.forEach((x) => x.el.classList.toggle("target", x === s));
  go(s);
  s.el.scrollIntoView({ block: "center" });
  return true;
}
window.addEventListener("hashchange", () => { if (view.player) goToHash(); });

function render(data) {
  view.data = data;
  $("#title").textContent = `${data.case_id} / ${data.interview_id}`;
  view.segs = data.segments.map((seg) => buildSegment({ data: seg, dirty: new Set(), saving: null, again: false }));
  $("#segments").replaceChildren(...view.segs.map((s) => s.el));
  $("#speakers").replaceWith(speakerBar(data));
  // speaker_merge.js (an ES module) draws its merge offers from this
  const detail = { data, reviewer: reviewer(), canEdit: MAY.edit };
  document.dispatchEvent(new CustomEvent("testimony:rendered", { detail }));
  showProgress();
}

function showProgress() {
  const done = view.segs.filter((s) => s.data.reviewed).length;
  const flagged = view.segs.filter(isFlagged).length;
  $("#progress").textContent = t("{done}/{total} reviewed, {flagged} flagged, interview {status}",
    { done, total: view.segs.length, flagged, status: STATUS_NAMES()[view.data.review.status] || view.data.review.status });
  $("#mark-interview").textContent = view.data.review.status === "reviewed" ? t("Reopen interview") : t("Mark interview reviewed");
}

function buildSegment(s) {
  const d = s.data;
  const lang = el("select", { class: "lang", "aria-label": t("language") },
    view.data.languages.map((l) => el("option", { value: l, selected: l === d.language }, l)));
  const node = el("article", { class: "seg", "data-id": d.id },
    el("div", { class: "seg-head" },
      el("button", { type: "button", class: "time", title: t("Play from here"), onclick: () => playFrom(s) },
        `${clock(d.start)}–${clock(d.end)}`),
      el("span", {}, `#${d.id}`), lang,
      el("input", { class: "speaker", placeholder: t("speaker"), "aria-label": t("speaker"), value: d.speaker || "" }),
      el("label", {}, el("input", { type: "checkbox", class: "reviewed", checked: d.reviewed }), " ", t("reviewed")),
      d.flags.map((f) => el("span", { class: "flag", "data-flag": f }, t(f))),
      el("span", { class: "seg-state" })),
    el("textarea", { class: "src", rows: 2, lang: d.language, "aria-label": t("source text") }, d.text),
    wordLine(d),
    el("textarea", { class: "en", rows: 2, lang: "en", "aria-label": t("English"), placeholder: t("English (missing)") }, d.english || ""),
    el("div", { class: "seg-actions" },
      el("button", { type: "button", class: "translate", onclick: () => retranslate(s) }, t("Re-translate")),
      el("button", { type: "button", class: "split", onclick: () => split(s) }, t("Split at cursor")),
      el("button", { type: "button", class: "merge", onclick: () => merge(s) }, t("Merge with next")),
      el("button", { type: "button", class: "history", onclick: () => toggleHistory(s) }, t("History")),
      MAY.withhold ? el("button", { type: "button", class: "withhold", onclick: () => withholdSegment(s) }, t("Withhold segment")) : ""),
    el("div", { class: "conflict", hidden: true }),
    el("div", { class: "audit", hidden: true }));
  s.el = node;
  const fields = { text: "textarea.src", english: "textarea.en", language: "select.lang", speaker: "input.speaker", reviewed: "input.reviewed" };
  for (const [name, sel] of Object.entries(fields)) {
    const input = node.querySelector(sel);
    const immediate = input.tagName === "SELECT" || input.type === "checkbox";
    input.addEventListener(immediate ? "change" : "input", () => {
      s.dirty.add(name);
      setSegState(s, N_("unsaved"));
      clearTimeout(s.timer);
      s.timer = setTimeout(() => save(s), immediate ? 0 : 700);
    });
    // Leaving a segment saves it, unless it waits for the reviewer to choose between two versions.
    input.addEventListener("blur", () => { if (s.dirty.size && !s.el.classList.contains("conflicted")) save(s); });
  }
  node.addEventListener("focusin", () => { view.focused = s; });
  paint(s);
  return s;
}

function paint(s) {
  s.el.classList.toggle("flagged", isFlagged(s));
  s.el.classList.toggle("reviewed", s.data.reviewed);
  s.el.classList.toggle("withheld", Boolean(s.data.withheld));
}

// The state in words for the reviewer, and as a stable key (data-state) for scripts and tests.
function setSegState(s, key) { s.el.querySelector(".seg-state").textContent = t(key); s.el.dataset.state = key; }

function valueOf(s, name) {
  const n = s.el;
  return {
    text: () => n.querySelector("textarea.src").value,
    english: () => n.querySelector("textarea.en").value,
    language: () => n.querySelector("select.lang").value,
    speaker: () => n.querySelector("input.speaker").value,
    reviewed: () => n.querySelector("input.reviewed").checked,
  }[name]();
}

function showValues(s) {
  const d = s.data, n = s.el;
  n.querySelector("textarea.src").value = d.text;
  n.querySelector("textarea.en").value = d.english || "";
  n.querySelector("select.lang").value = d.language;
  n.querySelector("input.speaker").value = d.speaker || "";
  n.querySelector("input.reviewed").checked = d.reviewed;
  paint(s);
}

// Autosave: one save in flight per segment; changes made meanwhile go in the next one.
async function save(s) {
  clearTimeout(s.timer);
  if (!s.dirty.size) return s.saving;
  if (s.saving) { s.again = true; return s.saving; }
  if (!reviewer() && !(await askName())) return;
  const changes = {};
  for (const name of s.dirty) changes[name] = valueOf(s, name);
  s.dirty.clear();
  setSegState(s, N_("saving…"));
  setState(t("Saving…"));
  s.saving = (async () => {
    const { ok, status, data } = await api("POST", `/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}`,
      { reviewer: reviewer(), revision: s.data.revision, changes });
    s.saving = null;
    if (ok) {
      adopt(s, data);
      setSegState(s, s.dirty.size ? N_("unsaved") : N_("saved"));
      if (!view.segs.some((x) => x.dirty.size || (x.saving && x !== s))) setState(t("All changes saved"));
    } else {
      for (const name of Object.keys(changes)) s.dirty.add(name);
      if (status === 409 && data.conflict) showConflict(s, data);
      else { setSegState(s, N_("not saved")); setState(data ? data.error : t("Save failed: is the server running?"), true); }
      return;
    }
    if (s.again) { s.again = false; await save(s); }
  })();
  return s.saving;
}

// Take the server's version of a segment after a save, keeping what was typed since.
function adopt(s, payload) {
  view.data = payload;
  const fresh = payload.segments.find((x) => x.id === s.data.id);
  if (fresh) s.data = fresh;
  s.el.querySelector("p.words").replaceWith(wordLine(s.data));
  paint(s);
  showProgress();
}

function showConflict(s, reply) {
  const c = reply.conflict, box = s.el.querySelector(".conflict");
  s.el.classList.add("conflicted");
  setSegState(s, N_("not saved: changed by someone else"));
  setState(t("Segment {id} was changed by {by} meanwhile: choose which version to keep", { id: c.segment_id, by: c.by }), true);
  const theirs = c.current;
  const who = c.by || t("someone");
  box.replaceChildren(
    el("p", {}, t("Not saved: {by} saved this segment at {at} (revision {revision}) after you opened it. Their version:", { by: who, at: c.at, revision: c.revision })),
    theirs ? el("div", {}, el("div", { class: "their-text" }, `${theirs.language}: ${theirs.text}`),
      el("div", { class: "their-english" }, "en: ", theirs.english || t("(none)"))) : el("p", {}, t("It was merged into another segment: reload the page.")),
    theirs ? el("button", { type: "button", onclick: () => resolve(false) }, t("Use their version")) : "",
    theirs ? el("button", { type: "button", onclick: () => resolve(true) }, t("Keep mine (replaces theirs)")) : "");
  box.hidden = false;
  function resolve(keepMine) {
    box.hidden = true;
    s.el.classList.remove("conflicted");
    const mine = {};
    for (const name of s.dirty) mine[name] = valueOf(s, name);
    s.data = { ...s.data, ...theirs, revision: c.revision };
    showValues(s);
    if (keepMine) { Object.keys(mine).forEach((k) => s.dirty.add(k)); restore(s, mine); save(s); }
    else { s.dirty.clear(); setSegState(s, N_("their version")); setState(t("All changes saved")); }
  }
}

function restore(s, values) {
  const n = s.el;
  if ("text" in values) n.querySelector("textarea.src").value = values.text;
  if ("english" in values) n.querySelector("textarea.en").value = values.english;
  if ("language" in values) n.querySelector("select.lang").value = values.language;
  if ("speaker" in values) n.querySelector("input.speaker").value = values.speaker;
  if ("reviewed" in values) n.querySelector("input.reviewed").checked = values.reviewed;
}

async function flush() { await Promise.all(view.segs.map((s) => save(s))); }

async function post(url, body, s) {
  await flush();
  const { ok, status, data } = await api("POST", url, { reviewer: reviewer(), ...body });
  if (ok) { rerender(data); setState(t("All changes saved")); return { ok }; }
  if (status === 409 && data.conflict && s) showConflict(s, data);
  else if (!(status === 409 && data.needs_confirmation)) setState(data ? data.error : t("Failed."), true);
  return { ok, status, data };
}

function rerender(data) {
  const focusedId = view.focused && view.focused.data.id;
  render(data);
  const again = view.segs.find((x) => x.data.id === focusedId);
  if (again) again.el.querySelector("textarea.src").focus({ preventScroll: true });
}

async function retranslate(s) {
  const url = `/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}/translate`;
  setState(t("Translating…"));
  await flush();
  const reply = await post(url, { revision: s.data.revision }, s);
  if (!reply.ok && reply.status === 409 && reply.data.needs_confirmation) {
    if (confirm(`${t("The English of segment {id} was written by hand. Replace it with the machine translation?", { id: s.data.id })}\n\n${reply.data.proposed}`)) {
      await post(url, { revision: s.data.revision, replace: true }, s);
    } else setState(t("Kept the hand-written English"));
  }
}

async function split(s) {
  const src = s.el.querySelector("textarea.src");
  const offset = src.selectionStart;
  const t = view.player.currentTime;
  const inside = t > s.data.start + 0.05 && t < s.data.end - 0.05;
  const at = inside ? t : s.data.start + (s.data.end - s.data.start) * (offset / Math.max(src.value.length, 1));
  await post(`/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}/split`,
    { revision: s.data.revision, at, offset }, s);
}

async function merge(s) {
  const next = view.segs[view.segs.indexOf(s) + 1];
  if (!next) { setState(t("This is the last segment: nothing to merge with"), true); return; }
  await post(`/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}/merge`,
    { revision: s.data.revision, next_revision: next.data.revision }, s);
}

async function toggleHistory(s) {
  const box = s.el.querySelector(".audit");
  if (!box.hidden) { box.hidden = true; return; }
  const { ok, data } = await api("GET", `/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}/audit`);
  if (!ok) { setState(data ? data.error : "could not load the history", true); return; }
  const show = (v) => (v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  box.replaceChildren(data.length ? el("table", {},
    el("tr", {}, [t("When"), t("Who"), t("Action"), t("Field"), t("Before"), t("After")].map((h) => el("th", {}, h))),
    data.map((a) => el("tr", { class: "audit-entry" }, el("td", {}, a.at), el("td", {}, a.reviewer), el("td", {}, a.action),
      el("td", {}, a.field), el("td", {}, show(a.before)), el("td", {}, show(a.after)))))
    : el("p", { class: "hint" }, t("No changes yet: this is the machine's version.")));
  box.hidden = false;
}

async function toggleInterviewReviewed() {
  const status = view.data.review.status === "reviewed" ? "in_progress" : "reviewed";
  await post(`/api/interviews/${encodeURIComponent(view.id)}/status`, { status });
}

// A press officer's work: withhold names or segments from exports, export -------------------
async function pressAction(action, body) {
  await flush();
  setState(action === "export" ? t("Exporting…") : t("Saving…"));
  const { ok, data } = await api("POST", `/api/interviews/${encodeURIComponent(view.id)}/press/${action}`, body);
  if (!ok) { setState(data ? data.error : t("Failed."), true); return null; }
  rerender(data.interview);
  return data;
}

async function withholdTerm() {
  const term = prompt(t("A name, place or number to withhold from every export:"));
  if (!term || !term.trim()) return;
  if (await pressAction("withhold", { terms: [term.trim()] })) setState(t("Withheld from exports"));
}

async function withholdSegment(s) {
  if (await pressAction("withhold", { segments: [s.data.id] })) setState(t("Segment {id} withheld from exports", { id: s.data.id }));
}

async function exportInterview() {
  const reply = await pressAction("export", {});
  if (reply) setState(t("Exported {count} file(s) to {folder}", { count: reply.files.length, folder: reply.folder }));
}

// Playback -----------------------------------------------------------------------------------
function playFrom(s) {
  view.player.currentTime = s.data.start;
  view.player.play().catch(() => setState(t("Press play on the player (the browser blocked autoplay)"), true));
}

function followPlayback() {
  const t = view.player.currentTime;
  const now = view.segs.find((s) => t >= s.data.start && t < s.data.end);
  if (now === view.playing) return;
  if (view.playing) view.playing.el.classList.remove("playing");
  view.playing = now || null;
  if (!now) return;
  now.el.classList.add("playing");
  const typing = document.activeElement && view.segs.some((s) => s.el.contains(document.activeElement));
  if (!typing || !view.player.paused) now.el.scrollIntoView({ block: "nearest" });
}

function current() { return view.focused || view.playing || view.segs[0]; }

function go(s, play = false) {
  if (!s) return;
  s.el.querySelector("textarea.src").focus();
  s.el.scrollIntoView({ block: "nearest" });
  view.player.currentTime = s.data.start;
  if (play) view.player.play().catch(() => {});
}

function nextFlagged(step) {
  const list = view.segs, start = list.indexOf(current());
  for (let i = 1; i <= list.length; i++) {
    const s = list[(start + step * i + list.length * i) % list.length];
    if (isFlagged(s)) return go(s);
  }
  setState(t("No flagged segments left"));
}

function setRate(step) {
  const p = view.player, i = RATES.findIndex((r) => r >= p.playbackRate - 0.001);
  p.playbackRate = RATES[Math.min(Math.max(i + step, 0), RATES.length - 1)];
}

document.addEventListener("keydown", (e) => {
  if (!view.player || $("#name-dialog").open) return;
  const p = view.player, s = current(), index = view.segs.indexOf(s);
  const keys = {
    "Escape": () => (p.paused ? p.play().catch(() => {}) : p.pause()),
    "F1": () => { p.currentTime = Math.max(0, p.currentTime - 5); },
    "F2": () => { p.currentTime = p.currentTime + 5; },
    "F3": () => setRate(-1),
    "F4": () => setRate(1),
    "F8": () => nextFlagged(1),
    "Shift+F8": () => nextFlagged(-1),
    "Alt+ArrowDown": () => go(view.segs[index + 1]),
    "Alt+ArrowUp": () => go(view.segs[index - 1]),
    "Alt+p": () => go(s, true),
    "Ctrl+Enter": () => {
      s.el.querySelector("input.reviewed").checked = true;
      s.dirty.add("reviewed");
      save(s);
      go(view.segs[index + 1]);
    },
    "Ctrl+s": () => flush(),
    "Alt+t": () => retranslate(s),
    "Alt+s": () => split(s),
    "Alt+m": () => merge(s),
    "Alt+h": () => toggleHistory(s),
  };
  const name = `${e.ctrlKey ? "Ctrl+" : ""}${e.altKey ? "Alt+" : ""}${e.shiftKey && e.key.length > 1 ? "Shift+" : ""}${e.key.length === 1 ? e.key.toLowerCase() : e.key}`;
  if (keys[name]) { e.preventDefault(); keys[name](); }
});

window.addEventListener("beforeunload", (e) => {
  const pending = view.segs.some((s) => s.dirty.size || s.saving);
  if (pending) { flush(); e.preventDefault(); }
});

// Start, once every script of the page (accounts.js too) has run ---------------------------
document.addEventListener("DOMContentLoaded", async () => {
  showName();
  if (!reviewer()) await askName();
  const m = location.pathname.match(/^\/interviews\/([^/]+)$/);
  if (m) await showInterview(decodeURIComponent(m[1]));
  else await showList();
});
