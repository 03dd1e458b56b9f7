// Playing the recording: from a segment, following along, moving between segments, speed.
import { N_, setState, t } from "./core.js";
import { hooks } from "./extend.js";
import { current, isFlagged, view } from "./state.js";

const RATES = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2];

export function playFrom(s) {
  view.player.currentTime = s.data.start;
  view.player
    .play()
    .catch(() => setState(t("Press play on the player (the browser blocked autoplay)"), true));
}

export function followPlayback() {
  const at = view.player.currentTime;
  const now = view.segs.find((s) => at >= s.data.start && at < s.data.end);
  if (now !== view.playing) {
    if (view.playing) view.playing.el.classList.remove("playing");
    view.playing = now || null;
    if (now) {
      now.el.classList.add("playing");
      const typing =
        document.activeElement && view.segs.some((s) => s.el.contains(document.activeElement));
      if (!typing || !view.player.paused) now.el.scrollIntoView({ block: "nearest" });
    }
  }
  for (const follow of hooks.playback) follow(at);
}

export function go(s, play = false) {
  if (!s) return;
  s.el.querySelector("textarea.src").focus();
  s.el.scrollIntoView({ block: "nearest" });
  view.player.currentTime = s.data.start;
  if (play) view.player.play().catch(() => {});
}

function nextFlagged(step) {
  const list = view.segs,
    start = list.indexOf(current());
  for (let i = 1; i <= list.length; i++) {
    const s = list[(start + step * i + list.length * i) % list.length];
    if (isFlagged(s)) return go(s);
  }
  setState(t("No flagged segments left"));
}

function setRate(step) {
  const p = view.player,
    i = RATES.findIndex((r) => r >= p.playbackRate - 0.001);
  p.playbackRate = RATES[Math.min(Math.max(i + step, 0), RATES.length - 1)];
}

function playPause() {
  const p = view.player;
  if (p.paused) p.play().catch(() => {});
  else p.pause();
}

// Each key once: the handler in keys.js and the list on the page both read hooks.keys.
hooks.keys.push(
  { key: "Escape", shown: "Esc", label: N_("play / pause"), run: playPause },
  {
    key: "F1",
    label: N_("back 5 s"),
    run: () => {
      view.player.currentTime = Math.max(0, view.player.currentTime - 5);
    },
  },
  {
    key: "F2",
    label: N_("forward 5 s"),
    run: () => {
      view.player.currentTime += 5;
    },
  },
  { key: "F3", label: N_("slower"), run: () => setRate(-1) },
  { key: "F4", label: N_("faster"), run: () => setRate(1) },
  {
    key: "Alt+ArrowDown",
    shown: "Alt+↓",
    label: N_("next segment"),
    run: (s, i) => go(view.segs[i + 1]),
  },
  {
    key: "Alt+ArrowUp",
    shown: "Alt+↑",
    label: N_("previous segment"),
    run: (s, i) => go(view.segs[i - 1]),
  },
  { key: "F8", label: N_("next flagged"), run: () => nextFlagged(1) },
  { key: "Shift+F8", label: N_("previous flagged"), run: () => nextFlagged(-1) },
  { key: "Alt+p", shown: "Alt+P", label: N_("play segment"), run: (s) => go(s, true) },
);
