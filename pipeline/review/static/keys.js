// The keyboard: every binding is one entry in hooks.keys (declared by the module that owns the
// action), so the handler here and the list shown on the page cannot disagree.
import { $ } from "./core.js";
import { hooks } from "./extend.js";
import { current, view } from "./state.js";

function keyName(e) {
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const shift = e.shiftKey && e.key.length > 1 ? "Shift+" : "";
  return `${e.ctrlKey ? "Ctrl+" : ""}${e.altKey ? "Alt+" : ""}${shift}${key}`;
}

document.addEventListener("keydown", (e) => {
  if (!view.player || $("#name-dialog").open) return;
  const binding = hooks.keys.find((k) => k.key === keyName(e));
  if (!binding) return;
  e.preventDefault();
  const s = current();
  binding.run(s, view.segs.indexOf(s));
});
