// One interview: the player, its segments, autosave with revisions, and conflicts shown.
// The server keeps every version; this page only sends what the reviewer changed, with the
// revision it was based on, and shows refusals. Features add to a segment through extend.js.
import { $, N_, STATUS_NAMES, api, clock, el, main, setState, t } from "./core.js";
import { addKeys, hooks } from "./extend.js";
import { followPlayback, go, playFrom } from "./playback.js";
import { askName, reviewer } from "./reviewer.js";
import { isFlagged, view } from "./state.js";

// The pipeline's flags (pipeline/asr.py, transcript.py), named so the catalogue translates them.
N_("low confidence");
N_("uncertain");
N_("repetition");
N_("possible hallucination in silence");
N_("unsupported language: full review needed");
N_("translation missing");

const FIELDS = {
  text: "textarea.src",
  english: "textarea.en",
  language: "select.lang",
  speaker: "input.speaker",
  reviewed: "input.reviewed",
};

export async function showInterview(id) {
  view.id = id;
  const { ok, data } = await api("GET", `/api/interviews/${encodeURIComponent(id)}`);
  if (!ok) {
    main.textContent = data ? data.error : t("Could not load the interview.");
    return;
  }
  const player = el(data.media.kind, {
    id: "player",
    controls: true,
    preload: "auto",
    src: data.media.url,
  });
  player.addEventListener("error", () =>
    setState(
      t("This browser cannot play {name}; the text can still be edited.", {
        name: data.media.name,
      }),
      true,
    ),
  );
  player.addEventListener("timeupdate", followPlayback);
  player.addEventListener("ratechange", () => {
    $("#rate").textContent = `${player.playbackRate}×`;
  });
  view.player = player;
  main.replaceChildren(
    el(
      "div",
      { class: "layout" },
      el(
        "section",
        { class: "player" },
        player,
        el(
          "div",
          { class: "controls" },
          el("span", {}, t("Speed"), " ", el("b", { id: "rate" }, "1×")),
          el("span", { id: "progress" }),
          el("button", { type: "button", id: "mark-interview", onclick: toggleInterviewReviewed }),
        ),
        el("div", { id: "speakers" }),
        hooks.interviewTools.map((tool) => tool(data)),
        (data.warnings || []).map((w) => el("p", { class: "warning", role: "alert" }, w)),
        data.review_file
          ? el(
              "p",
              { class: "hint" },
              t("Also editable in any text editor: {file}", { file: data.review_file }),
            )
          : "",
        el(
          "ul",
          { class: "keys" },
          hooks.keys.map((k) => el("li", {}, el("kbd", {}, k.shown || k.key), " ", t(k.label))),
        ),
      ),
      el("section", { id: "segments" }),
    ),
  );
  render(data);
  if (!goToHash() && view.segs.length)
    view.segs[0].el.querySelector("textarea.src").focus({ preventScroll: true });
}

// #segment-<n>: scroll to that segment, focus it and seek the player there.
export function goToHash() {
  const m = location.hash.match(/^#segment-(\d+)$/);
  const s = m && view.player && view.segs.find((x) => x.data.id === Number(m[1]));
  if (!s) return false;
  view.segs.forEach((x) => x.el.classList.toggle("target", x === s));
  go(s);
  s.el.scrollIntoView({ block: "center" });
  return true;
}
window.addEventListener("hashchange", () => {
  if (view.player) goToHash();
});

function render(data) {
  view.data = data;
  $("#title").textContent = `${data.case_id} / ${data.interview_id}`;
  view.segs = data.segments.map((seg) =>
    buildSegment({ data: seg, dirty: new Set(), saving: null, again: false }),
  );
  $("#segments").replaceChildren(...view.segs.map((s) => s.el));
  for (const done of hooks.rendered) done(data);
  showProgress();
}

function showProgress() {
  const done = view.segs.filter((s) => s.data.reviewed).length;
  const flagged = view.segs.filter(isFlagged).length;
  const status = view.data.review.status;
  $("#progress").textContent = t("{done}/{total} reviewed, {flagged} flagged, interview {status}", {
    done,
    total: view.segs.length,
    flagged,
    status: STATUS_NAMES()[status] || status,
  });
  $("#mark-interview").textContent =
    status === "reviewed" ? t("Reopen interview") : t("Mark interview reviewed");
}

// Parts features add under the source text (the words in time, ...), drawn again after each save.
function parts(s) {
  return el(
    "div",
    { class: "seg-parts" },
    hooks.segmentParts.map((part) => part(s)),
  );
}

function buildSegment(s) {
  const d = s.data;
  const lang = el(
    "select",
    { class: "lang", "aria-label": t("language") },
    view.data.languages.map((l) => el("option", { value: l, selected: l === d.language }, l)),
  );
  const node = el(
    "article",
    { class: "seg", "data-id": d.id },
    el(
      "div",
      { class: "seg-head" },
      el(
        "button",
        { type: "button", class: "time", title: t("Play from here"), onclick: () => playFrom(s) },
        `${clock(d.start)}–${clock(d.end)}`,
      ),
      el("span", {}, `#${d.id}`),
      lang,
      el("input", {
        class: "speaker",
        placeholder: t("speaker"),
        "aria-label": t("speaker"),
        value: d.speaker || "",
      }),
      el(
        "label",
        {},
        el("input", { type: "checkbox", class: "reviewed", checked: d.reviewed }),
        " ",
        t("reviewed"),
      ),
      d.flags.map((f) => el("span", { class: "flag", "data-flag": f }, t(f))),
      el("span", { class: "seg-state" }),
    ),
    el(
      "textarea",
      { class: "src", rows: 2, lang: d.language, "aria-label": t("source text") },
      d.text,
    ),
    el("div", { class: "seg-parts" }),
    el(
      "textarea",
      {
        class: "en",
        rows: 2,
        lang: "en",
        "aria-label": t("English"),
        placeholder: t("English (missing)"),
      },
      d.english || "",
    ),
    el(
      "div",
      { class: "seg-actions" },
      hooks.segmentButtons.map((button) => button(s)),
    ),
    el("div", { class: "conflict", hidden: true }),
    el("div", { class: "audit", hidden: true }),
  );
  s.el = node;
  node.querySelector(".seg-parts").replaceWith(parts(s));
  for (const [name, sel] of Object.entries(FIELDS)) {
    const input = node.querySelector(sel);
    if (d.muted) {
      input.disabled = true;
      continue;
    } // withheld text the server does not show this role
    const immediate = input.tagName === "SELECT" || input.type === "checkbox";
    input.addEventListener(immediate ? "change" : "input", () => {
      s.dirty.add(name);
      setSegState(s, N_("unsaved"));
      clearTimeout(s.timer);
      s.timer = setTimeout(() => save(s), immediate ? 0 : 700);
    });
    // Leaving a segment saves it, unless it waits for the reviewer to choose between two versions.
    input.addEventListener("blur", () => {
      if (s.dirty.size && !s.el.classList.contains("conflicted")) save(s);
    });
  }
  node.addEventListener("focusin", () => {
    view.focused = s;
  });
  paint(s);
  return s;
}

function paint(s) {
  s.el.classList.toggle("flagged", isFlagged(s));
  s.el.classList.toggle("reviewed", s.data.reviewed);
  s.el.classList.toggle("withheld", Boolean(s.data.withheld));
}

// The state in words for the reviewer, and as a stable key (data-state) for scripts and tests.
function setSegState(s, key) {
  s.el.querySelector(".seg-state").textContent = t(key);
  s.el.dataset.state = key;
}

function valueOf(s, name) {
  const input = s.el.querySelector(FIELDS[name]);
  return input.type === "checkbox" ? input.checked : input.value;
}

function restore(s, values) {
  for (const [name, value] of Object.entries(values)) {
    const input = s.el.querySelector(FIELDS[name]);
    if (input.type === "checkbox") input.checked = value;
    else input.value = value ?? "";
  }
}

function showValues(s) {
  const d = s.data;
  restore(s, {
    text: d.text,
    english: d.english,
    language: d.language,
    speaker: d.speaker,
    reviewed: d.reviewed,
  });
  paint(s);
}

// Autosave: one save in flight per segment; changes made meanwhile go in the next one.
export async function save(s) {
  clearTimeout(s.timer);
  if (!s.dirty.size) return s.saving;
  if (s.saving) {
    s.again = true;
    return s.saving;
  }
  if (!reviewer() && !(await askName())) return;
  const changes = {};
  for (const name of s.dirty) changes[name] = valueOf(s, name);
  s.dirty.clear();
  setSegState(s, N_("saving…"));
  setState(t("Saving…"));
  s.saving = (async () => {
    const { ok, status, data } = await api(
      "POST",
      `/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}`,
      { reviewer: reviewer(), revision: s.data.revision, changes },
    );
    s.saving = null;
    if (ok) {
      adopt(s, data);
      setSegState(s, s.dirty.size ? N_("unsaved") : N_("saved"));
      if (!view.segs.some((x) => x.dirty.size || (x.saving && x !== s)))
        setState(t("All changes saved"));
    } else {
      for (const name of Object.keys(changes)) s.dirty.add(name);
      if (status === 409 && data.conflict) showConflict(s, data);
      else {
        setSegState(s, N_("not saved"));
        setState(data ? data.error : t("Save failed: is the server running?"), true);
      }
      return;
    }
    if (s.again) {
      s.again = false;
      await save(s);
    }
  })();
  return s.saving;
}

// Take the server's version of a segment after a save, keeping what was typed since.
function adopt(s, payload) {
  view.data = payload;
  const fresh = payload.segments.find((x) => x.id === s.data.id);
  if (fresh) s.data = fresh;
  s.el.querySelector(".seg-parts").replaceWith(parts(s));
  paint(s);
  showProgress();
}

export function showConflict(s, reply) {
  const c = reply.conflict,
    box = s.el.querySelector(".conflict");
  s.el.classList.add("conflicted");
  setSegState(s, N_("not saved: changed by someone else"));
  setState(
    t("Segment {id} was changed by {by} meanwhile: choose which version to keep", {
      id: c.segment_id,
      by: c.by,
    }),
    true,
  );
  const theirs = c.current;
  const who = c.by || t("someone");
  box.replaceChildren(
    el(
      "p",
      {},
      t(
        "Not saved: {by} saved this segment at {at} (revision {revision}) after you opened it. Their version:",
        { by: who, at: c.at, revision: c.revision },
      ),
    ),
    theirs
      ? el(
          "div",
          {},
          el("div", { class: "their-text" }, `${theirs.language}: ${theirs.text}`),
          el("div", { class: "their-english" }, "en: ", theirs.english || t("(none)")),
        )
      : el("p", {}, t("It was merged into another segment: reload the page.")),
    theirs
      ? el("button", { type: "button", onclick: () => resolve(false) }, t("Use their version"))
      : "",
    theirs
      ? el(
          "button",
          { type: "button", onclick: () => resolve(true) },
          t("Keep mine (replaces theirs)"),
        )
      : "",
  );
  box.hidden = false;
  function resolve(keepMine) {
    box.hidden = true;
    s.el.classList.remove("conflicted");
    const mine = {};
    for (const name of s.dirty) mine[name] = valueOf(s, name);
    s.data = { ...s.data, ...theirs, revision: c.revision };
    showValues(s);
    if (keepMine) {
      Object.keys(mine).forEach((k) => s.dirty.add(k));
      restore(s, mine);
      save(s);
    } else {
      s.dirty.clear();
      setSegState(s, N_("their version"));
      setState(t("All changes saved"));
    }
  }
}

export async function flush() {
  await Promise.all(view.segs.map((s) => save(s)));
}

// A change beyond one segment's fields (split, status, a speaker's name): saved edits first.
export async function post(url, body, s) {
  await flush();
  const { ok, status, data } = await api("POST", url, { reviewer: reviewer(), ...body });
  if (ok) {
    rerender(data);
    setState(t("All changes saved"));
    return { ok };
  }
  if (status === 409 && data.conflict && s) showConflict(s, data);
  else if (!(status === 409 && data.needs_confirmation))
    setState(data ? data.error : t("Failed."), true);
  return { ok, status, data };
}

export function rerender(data) {
  const focusedId = view.focused && view.focused.data.id;
  render(data);
  const again = view.segs.find((x) => x.data.id === focusedId);
  if (again) again.el.querySelector("textarea.src").focus({ preventScroll: true });
}

async function toggleInterviewReviewed() {
  const status = view.data.review.status === "reviewed" ? "in_progress" : "reviewed";
  await post(`/api/interviews/${encodeURIComponent(view.id)}/status`, { status });
}

function markReviewedAndGoOn(s, index) {
  s.el.querySelector("input.reviewed").checked = true;
  s.dirty.add("reviewed");
  save(s);
  go(view.segs[index + 1]);
}

addKeys(
  { key: "Ctrl+Enter", label: N_("segment reviewed, go to next"), run: markReviewedAndGoOn },
  { key: "Ctrl+s", shown: "Ctrl+S", label: N_("save now"), run: () => flush() },
);
