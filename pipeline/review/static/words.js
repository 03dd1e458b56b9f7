"use strict";
// Words in time and speaker names on the review page (loaded after review.js, which calls
// wordLine, followWords and speakerBar). Each word the recognizer timed is shown under the
// segment's text: the word being spoken is highlighted, a click plays from that word, and a
// word the model doubted is underlined so the reviewer's eye goes there. After an edit the
// server drops a word list that no longer spells the text, and the line disappears with it.

const DOUBTFUL = 0.5; // probabilities below this are underlined

function wordLine(d) {
  if (!d.words || !d.words.length) return el("p", { class: "words", hidden: true });
  return el("p", { class: "words", "aria-label": "words in time" }, d.words.map((w, i) => [
    el("span", {
      class: w.probability < DOUBTFUL ? "w low" : "w", "data-i": i, "data-start": w.start, "data-end": w.end,
      title: `${clock(w.start)} · ${Math.round(w.probability * 100)}%`,
      onclick: () => { view.player.currentTime = w.start; view.player.play().catch(() => {}); },
    }, w.text), " "]).flat());
}

function followWords(t) {
  const old = document.querySelector("#segments .w.now");
  const s = view.playing;
  const line = s && s.el.querySelector("p.words");
  const now = line && [...line.querySelectorAll(".w")].find((w) => t >= +w.dataset.start && t < +w.dataset.end);
  if (now === old) return;
  if (old) old.classList.remove("now");
  if (now) now.classList.add("now");
}

// Speakers: rename a label once for the whole interview ("S1" → "Interviewer"), one audited edit.
function speakerBar(data) {
  const labels = [...new Set(data.segments.map((x) => x.speaker).filter(Boolean))];
  return el("div", { class: "speakers", id: "speakers" }, labels.length ? t("Speakers:") + " " : "",
    labels.map((label) => el("button", { type: "button", class: "rename", "data-speaker": label,
      title: t("Rename this speaker in every segment"), onclick: () => renameSpeaker(label) }, label)));
}

async function renameSpeaker(label) {
  const name = prompt(t("New name for {label} in every segment of this interview:", { label }), label);
  if (!name || name.trim() === label) return;
  const url = `/api/interviews/${encodeURIComponent(view.id)}/speakers`;
  await post(url, { old: label, new: name.trim() });
}
