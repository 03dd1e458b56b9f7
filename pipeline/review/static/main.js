// The review page's entry: the list of interviews at /, one interview at /interviews/<id>.
// Plain ES modules, no build step; every feature has registered itself before start runs.
import "./features.js";
import { showList } from "./list.js";
import { askName, reviewer, showName } from "./reviewer.js";
import { view } from "./state.js";
import { flush, showInterview } from "./view.js";

window.addEventListener("beforeunload", (e) => {
  if (view.segs.some((s) => s.dirty.size || s.saving)) {
    flush();
    e.preventDefault();
  }
});

async function start() {
  showName();
  if (!reviewer()) await askName();
  const m = location.pathname.match(/^\/interviews\/([^/]+)$/);
  if (m) await showInterview(decodeURIComponent(m[1]));
  else await showList();
}

start();
