// After an interview is transcribed again: say which model and version the transcript is, and
// show beside each segment a reviewer kept the new machine text, with the word differences.
// Self-contained: it reads /api/interviews/<id>/suggestions and decorates the segments that
// review.js draws (article.seg[data-id]); taking a suggestion is a normal edit by the reviewer.

const match = location.pathname.match(/^\/interviews\/([^/]+)$/);
const messages = JSON.parse(document.getElementById("messages")?.textContent || "{}");
const t = (key) => messages[key] || key;

function node(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function banner(data, main) {
  if (document.getElementById("transcribed-with")) return;
  const earlier = data.earlier.map((v) => `v${v.version}: ${v.model}`).join(", ");
  const line = node("p", { id: "transcribed-with", class: "transcribed-with" },
    `${t("Transcribed with")} ${data.transcribed_with}, ${t("version")} ${data.version}`,
    earlier ? ` (${t("earlier versions kept")}: ${earlier})` : "");
  main.prepend(line);
}

function diffView(diff) {
  const out = node("span", { class: "suggestion-diff" });
  for (const [op, words] of diff) {
    const tag = op === "-" ? "del" : "ins";  // struck through: only reviewed; underlined: only new
    const part = op === "=" ? document.createTextNode(words) : node(tag, {}, words);
    out.append(part, " ");
  }
  return out;
}

function decorate(article, suggestion) {
  if (!suggestion || article.querySelector(".suggestion")) return;
  const box = node("aside", { class: "suggestion" },
    node("strong", {}, `${t("New machine text")} (v${suggestion.version}, ${suggestion.model}): `),
    node("span", { class: "suggestion-text" }, suggestion.text),
    node("br"), `${t("Differences")}: `, diffView(suggestion.diff));
  article.append(box);
}

async function start(id) {
  const response = await fetch(`/api/interviews/${encodeURIComponent(id)}/suggestions`,
                               { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  const main = document.getElementById("main");
  const draw = () => {
    if (!main.querySelector("article.seg")) return;  // the interview is not drawn yet
    banner(data, main);
    for (const article of main.querySelectorAll("article.seg")) {
      decorate(article, data.suggestions[article.dataset.id]);
    }
  };
  new MutationObserver(draw).observe(main, { childList: true, subtree: true });
  draw();
}

if (match) start(decodeURIComponent(match[1]));
