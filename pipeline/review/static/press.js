// A press officer's work: withhold names or segments from exports, and export.
import { MAY, api, el, setState, t } from "./core.js";
import { hooks } from "./extend.js";
import { view } from "./state.js";
import { flush, rerender } from "./view.js";

async function pressAction(action, body) {
  await flush();
  setState(action === "export" ? t("Exporting…") : t("Saving…"));
  const { ok, data } = await api(
    "POST",
    `/api/interviews/${encodeURIComponent(view.id)}/press/${action}`,
    body,
  );
  if (!ok) {
    setState(data ? data.error : t("Failed."), true);
    return null;
  }
  rerender(data.interview);
  return data;
}

async function withholdTerm() {
  const term = prompt(t("A name, place or number to withhold from every export:"));
  if (!term || !term.trim()) return;
  if (await pressAction("withhold", { terms: [term.trim()] })) setState(t("Withheld from exports"));
}

async function withholdSegment(s) {
  if (await pressAction("withhold", { segments: [s.data.id] })) {
    setState(t("Segment {id} withheld from exports", { id: s.data.id }));
  }
}

async function exportInterview() {
  const reply = await pressAction("export", {});
  if (reply)
    setState(
      t("Exported {count} file(s) to {folder}", {
        count: reply.files.length,
        folder: reply.folder,
      }),
    );
}

if (MAY.withhold) {
  hooks.interviewTools.push(() =>
    el(
      "div",
      { class: "press" },
      el(
        "button",
        { type: "button", id: "withhold-term", onclick: withholdTerm },
        t("Withhold a name…"),
      ),
      MAY.export
        ? el(
            "button",
            { type: "button", id: "export", onclick: exportInterview },
            t("Export for the press"),
          )
        : "",
    ),
  );
  hooks.segmentButtons.push((s) =>
    el(
      "button",
      { type: "button", class: "withhold", onclick: () => withholdSegment(s) },
      t("Withhold segment"),
    ),
  );
}
