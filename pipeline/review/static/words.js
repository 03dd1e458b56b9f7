// Words in time under each segment's text. Each word the recognizer timed is shown: the word
// being spoken is highlighted, a click plays from that word, and a word the model doubted is
// underlined so the reviewer's eye goes there. After an edit the server drops a word list that
// no longer spells the text, and the line disappears with it.
import { clock, el } from "./core.js";
import { hooks } from "./extend.js";
import { view } from "./state.js";

const DOUBTFUL = 0.5; // probabilities below this are underlined

function wordLine(s) {
  const d = s.data;
  if (!d.words || !d.words.length) return el("p", { class: "words", hidden: true });
  return el(
    "p",
    { class: "words", "aria-label": "words in time" },
    d.words
      .map((w, i) => [
        el(
          "span",
          {
            class: w.probability < DOUBTFUL ? "w low" : "w",
            "data-i": i,
            "data-start": w.start,
            "data-end": w.end,
            title: `${clock(w.start)} · ${Math.round(w.probability * 100)}%`,
            onclick: () => {
              view.player.currentTime = w.start;
              view.player.play().catch(() => {});
            },
          },
          w.text,
        ),
        " ",
      ])
      .flat(),
  );
}

function followWords(at) {
  const old = document.querySelector("#segments .w.now");
  const s = view.playing;
  const line = s && s.el.querySelector("p.words");
  const now =
    line &&
    [...line.querySelectorAll(".w")].find((w) => at >= +w.dataset.start && at < +w.dataset.end);
  if (now === old) return;
  if (old) old.classList.remove("now");
  if (now) now.classList.add("now");
}

hooks.segmentParts.push(wordLine);
hooks.playback.push(followWords);
