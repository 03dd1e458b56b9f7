// The search box in the page's header: every interview the account may see, each hit a link
// to its moment (/interviews/<id>#segment-<n>). The query goes in a POST body, never into the
// address, so no history or log keeps it. Results show in a panel of their own over the page,
// so an open interview stays as it was.
import { $, api, clock, el, main, t } from "./core.js";
import { goToHash } from "./view.js";

const form = $("#search");
if (form) {
  const input = form.querySelector("input");
  const panel = el("section", { id: "search-results", class: "search-results", hidden: true });
  main.before(panel);
  // Off until now, so the form is never sent the plain way (with the query in the address).
  input.disabled = false;

  function close() {
    panel.hidden = true;
    main.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (!query) return;
    panel.dataset.state = "searching";
    panel.replaceChildren(el("p", { class: "hint" }, t("Searching…")));
    panel.hidden = false;
    main.hidden = true;
    const { ok, data } = await api("POST", "/api/search", { query });
    const closer = el("button", { type: "button", class: "close", onclick: close }, t("Close"));
    if (!ok) {
      panel.replaceChildren(
        closer,
        el(
          "p",
          { class: "error", role: "alert" },
          data && data.error ? data.error : t("The search failed."),
        ),
      );
    } else {
      panel.replaceChildren(closer, ...results(data).flat());
    }
    panel.dataset.state = "done";
  });

  function results(data) {
    const groups = new Map(); // the server sends the best hit first: groups keep that order
    for (const hit of data.hits) {
      if (!groups.has(hit.interview)) groups.set(hit.interview, []);
      groups.get(hit.interview).push(hit);
    }
    return [
      el(
        "p",
        { class: "search-summary" },
        data.hits.length ? t("{n} hits", { n: data.hits.length }) : t("No hits."),
      ),
      data.more
        ? el(
            "p",
            { class: "hint" },
            t(
              "More than {cap} segments match: these are the best of the newest {cap}. Add words to narrow the search.",
              { cap: data.cap },
            ),
          )
        : "",
      [...groups].map(([id, hits]) =>
        el(
          "section",
          { class: "search-group", "data-interview": id },
          el(
            "h2",
            {},
            `${hits[0].case} / `,
            el("a", { href: `/interviews/${encodeURIComponent(id)}` }, id),
          ),
          el("ol", {}, hits.sort(byTime).map(item)),
        ),
      ),
    ];
  }

  function byTime(a, b) {
    return (a.segment === null ? -1 : a.start) - (b.segment === null ? -1 : b.start);
  }

  // A hit in the interview already open: go to the segment on this page, without loading it again.
  function open(event) {
    const link = event.currentTarget;
    if (link.pathname !== location.pathname) return;
    event.preventDefault();
    close();
    history.replaceState(null, "", link.href);
    goToHash();
  }

  function item(hit) {
    const withheld = { segment: t("withheld segment"), term: t("has a withheld name") }[
      hit.withheld
    ];
    return el(
      "li",
      { class: "search-hit", "data-segment": hit.segment === null ? "" : hit.segment },
      el(
        "a",
        { href: hit.link, class: "moment", onclick: open },
        hit.segment === null ? t("interview") : clock(hit.start),
      ),
      el("span", { class: "speaker" }, hit.speaker || ""),
      el(
        "span",
        { class: "snippet" },
        hit.parts.map(([text, matched]) => (matched ? el("mark", {}, text) : text)),
        withheld ? el("span", { class: "withheld-mark" }, withheld) : "",
      ),
    );
  }
}
