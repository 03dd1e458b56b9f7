// Offers "merge S3 into S1" where the speaker step found two voices close: the voice step may
// have split one person in two. One click asks, then merges the labels in every segment as one
// audited edit (POST /api/interviews/{id}/merge-speakers; the server checks the role).
import { $, MAY, el, t } from "./core.js";
import { hooks } from "./extend.js";
import { view } from "./state.js";
import { post } from "./view.js";

const BAR_ID = "speaker-merge";

async function merge(pair) {
  const question = t("Merge {merge} into {keep} in every segment? (audited)", pair);
  if (!confirm(question)) return;
  await post(`/api/interviews/${encodeURIComponent(view.id)}/merge-speakers`, {
    merge: pair.merge,
    into: pair.keep,
  });
}

function mergeBar(data) {
  const pairs = data.close_speakers || [];
  const bar = el("div", { id: BAR_ID, class: "speaker-merge" });
  if (!MAY.edit || !pairs.length) {
    bar.hidden = true;
    return bar;
  }
  bar.append(t("Voices that sound alike (the speaker step is unsure):") + " ");
  for (const pair of pairs) {
    const node = el(
      "button",
      {
        type: "button",
        class: "merge-speakers",
        title: t("voice distance {distance} (0 = the same voice)", pair),
        onclick: () => merge(pair),
      },
      t("Merge {merge} into {keep}", pair),
    );
    bar.append(node, " ");
  }
  return bar;
}

hooks.rendered.push((data) => {
  const bar = mergeBar(data);
  const old = document.getElementById(BAR_ID);
  if (old) old.replaceWith(bar);
  else $("#speakers")?.after(bar);
});
