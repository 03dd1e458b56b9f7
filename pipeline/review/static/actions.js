// A segment's actions beyond its fields: re-translate, split, merge, its history.
import { N_, api, el, setState, t } from "./core.js";
import { addKeys, hooks } from "./extend.js";
import { flush, post } from "./view.js";
import { view } from "./state.js";

const segmentUrl = (s, action) =>
  `/api/interviews/${encodeURIComponent(view.id)}/segments/${s.data.id}/${action}`;

async function retranslate(s) {
  setState(t("Translating…"));
  await flush();
  const reply = await post(segmentUrl(s, "translate"), { revision: s.data.revision }, s);
  if (!reply.ok && reply.status === 409 && reply.data.needs_confirmation) {
    const question = t(
      "The English of segment {id} was written by hand. Replace it with the machine translation?",
      { id: s.data.id },
    );
    if (confirm(`${question}\n\n${reply.data.proposed}`)) {
      await post(segmentUrl(s, "translate"), { revision: s.data.revision, replace: true }, s);
    } else setState(t("Kept the hand-written English"));
  }
}

async function split(s) {
  const src = s.el.querySelector("textarea.src");
  const offset = src.selectionStart;
  const now = view.player.currentTime;
  const inside = now > s.data.start + 0.05 && now < s.data.end - 0.05;
  const at = inside
    ? now
    : s.data.start + (s.data.end - s.data.start) * (offset / Math.max(src.value.length, 1));
  await post(segmentUrl(s, "split"), { revision: s.data.revision, at, offset }, s);
}

async function merge(s) {
  const next = view.segs[view.segs.indexOf(s) + 1];
  if (!next) {
    setState(t("This is the last segment: nothing to merge with"), true);
    return;
  }
  await post(
    segmentUrl(s, "merge"),
    { revision: s.data.revision, next_revision: next.data.revision },
    s,
  );
}

async function toggleHistory(s) {
  const box = s.el.querySelector(".audit");
  if (!box.hidden) {
    box.hidden = true;
    return;
  }
  const { ok, data } = await api("GET", `${segmentUrl(s, "audit")}`);
  if (!ok) {
    setState(data ? data.error : t("Failed."), true);
    return;
  }
  const show = (v) => (v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const heads = [t("When"), t("Who"), t("Action"), t("Field"), t("Before"), t("After")];
  box.replaceChildren(
    data.length
      ? el(
          "table",
          {},
          el(
            "tr",
            {},
            heads.map((h) => el("th", {}, h)),
          ),
          data.map((a) =>
            el(
              "tr",
              { class: "audit-entry" },
              el("td", {}, a.at),
              el("td", {}, a.reviewer),
              el("td", {}, a.action),
              el("td", {}, a.field),
              el("td", {}, show(a.before)),
              el("td", {}, show(a.after)),
            ),
          ),
        )
      : el("p", { class: "hint" }, t("No changes yet: this is the machine's version.")),
  );
  box.hidden = false;
}

const button = (cls, label, run) => (s) =>
  s.data.muted && cls !== "history"
    ? ""
    : el("button", { type: "button", class: cls, onclick: () => run(s) }, t(label));

hooks.segmentButtons.push(
  button("translate", N_("Re-translate"), retranslate),
  button("split", N_("Split at cursor"), split),
  button("merge", N_("Merge with next"), merge),
  button("history", N_("History"), toggleHistory),
);

addKeys(
  { key: "Alt+t", shown: "Alt+T", label: N_("re-translate"), run: retranslate },
  { key: "Alt+s", shown: "Alt+S", label: N_("split at cursor"), run: split },
  { key: "Alt+m", shown: "Alt+M", label: N_("merge with next"), run: merge },
  { key: "Alt+h", shown: "Alt+H", label: N_("history"), run: toggleHistory },
);
