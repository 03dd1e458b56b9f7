// Speakers: rename a label once for the whole interview ("S1" → "Interviewer"), one audited
// edit. Other speaker actions add a button per label through hooks.speakerButtons.
import { $, el, t } from "./core.js";
import { hooks } from "./extend.js";
import { view } from "./state.js";
import { post } from "./view.js";

function speakerBar(data) {
  const labels = [...new Set(data.segments.map((x) => x.speaker).filter(Boolean))];
  return el(
    "div",
    { class: "speakers", id: "speakers" },
    labels.length ? t("Speakers:") + " " : "",
    labels.map((label) => [
      el(
        "button",
        {
          type: "button",
          class: "rename",
          "data-speaker": label,
          title: t("Rename this speaker in every segment"),
          onclick: () => renameSpeaker(label),
        },
        label,
      ),
      hooks.speakerButtons.map((button) => button(label, data)),
    ]),
  );
}

async function renameSpeaker(label) {
  const name = prompt(
    t("New name for {label} in every segment of this interview:", { label }),
    label,
  );
  if (!name || name.trim() === label) return;
  await post(`/api/interviews/${encodeURIComponent(view.id)}/speakers`, {
    old: label,
    new: name.trim(),
  });
}

hooks.rendered.push((data) => $("#speakers").replaceWith(speakerBar(data)));
