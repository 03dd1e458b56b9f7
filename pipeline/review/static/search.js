// The search box in the page's header: every interview the account may see, each hit a link
// to its moment (/interviews/<id>#segment-<n>). Uses review.js's helpers ($, el, api, t, clock).
// The query goes in a POST body, never into the address, so no history or log keeps it.
"use strict";

(() => {
  const form = $("#search");
  if (!form) return;
  const input = form.querySelector("input");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (!query) return;
    main.replaceChildren();  // the last results go at once: nothing stale stays on screen
    const { ok, data } = await api("POST", "/api/search", { query });
    $("#title").textContent = t("Search");
    if (!ok) {
      main.replaceChildren(el("section", { class: "search-results" },
        el("p", { class: "error", role: "alert" }, data && data.error ? data.error : t("The search failed."))));
      return;
    }
    main.replaceChildren(results(data));
  });

  function results(data) {
    const groups = new Map();  // the server sends the best hit first: groups keep that order
    for (const hit of data.hits) {
      if (!groups.has(hit.interview)) groups.set(hit.interview, []);
      groups.get(hit.interview).push(hit);
    }
    const summary = data.hits.length ? t("{n} hits", { n: data.hits.length }) : t("No hits.");
    return el("section", { class: "search-results", "aria-live": "polite" },
      el("p", { class: "search-summary" }, summary),
      data.more ? el("p", { class: "hint" }, t("More than {cap} segments match: these are the best of the newest {cap}. Add words to narrow the search.", { cap: data.cap })) : "",
      [...groups].map(([id, hits]) => el("section", { class: "search-group", "data-interview": id },
        el("h2", {}, `${hits[0].case} / `, el("a", { href: `/interviews/${encodeURIComponent(id)}` }, id)),
        el("ol", {}, hits.sort(byTime).map(item)))));
  }

  function byTime(a, b) {
    return (a.segment === null ? -1 : a.start) - (b.segment === null ? -1 : b.start);
  }

  // A hit in the interview already open differs only by its #segment-: load the page again,
  // since the results have taken the segments' place.
  function open(event) {
    if (event.currentTarget.pathname !== location.pathname) return;
    event.preventDefault();
    history.replaceState(null, "", event.currentTarget.href);
    location.reload();
  }

  function item(hit) {
    const withheld = { segment: t("withheld segment"), term: t("has a withheld name") }[hit.withheld];
    return el("li", { class: "search-hit", "data-segment": hit.segment === null ? "" : hit.segment },
      el("a", { href: hit.link, class: "moment", onclick: open }, hit.segment === null ? t("interview") : clock(hit.start)),
      el("span", { class: "speaker" }, hit.speaker || ""),
      el("span", { class: "snippet" }, hit.parts.map(([text, matched]) => (matched ? el("mark", {}, text) : text)),
        withheld ? el("span", { class: "withheld-mark" }, withheld) : ""));
  }
})();
