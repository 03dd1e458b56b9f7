// The list of interviews, filtered by case, status and flag count (kept in the address).
import { STATUS_NAMES, api, el, listTable, main, t, $ } from "./core.js";
import { hooks } from "./extend.js";

export async function showList() {
  $("#title").textContent = "";
  const { ok, data } = await api("GET", "/api/interviews");
  if (!ok) {
    main.textContent = data ? data.error : t("Could not load the interviews.");
    return;
  }
  if (!data.length) {
    main.append(el("p", {}, t("No transcripts yet: process recordings first.")));
    return;
  }
  const query = new URLSearchParams(location.search);
  const cases = [...new Set(data.map((i) => i.case_id))].sort();
  const pick = (name, options) =>
    el(
      "select",
      { name, "aria-label": name, onchange: filter },
      el("option", { value: "" }, t("all")),
      options.map(([v, label]) =>
        el("option", { value: v, selected: query.get(name) === v }, label),
      ),
    );
  const filters = el(
    "form",
    { class: "filters", onsubmit: (e) => e.preventDefault() },
    el(
      "label",
      {},
      t("Case"),
      " ",
      pick(
        "case",
        cases.map((c) => [c, c]),
      ),
    ),
    el("label", {}, t("Status"), " ", pick("status", Object.entries(STATUS_NAMES()))),
    el(
      "label",
      {},
      t("At least this many flagged"),
      " ",
      el("input", {
        name: "flagged",
        type: "number",
        min: 0,
        class: "count",
        value: query.get("flagged") || "",
        oninput: filter,
      }),
    ),
  );
  const body = el("tbody");
  const heads = [
    t("Case"),
    t("Interview"),
    t("Review"),
    t("Segments reviewed"),
    t("Flagged"),
    t("Reviewers"),
  ];
  main.replaceChildren(
    filters,
    listTable(heads, body),
  );
  function filter() {
    const form = new FormData(filters),
      wanted = new URLSearchParams();
    for (const [k, v] of form) if (v) wanted.set(k, v);
    history.replaceState(null, "", wanted.toString() ? `/?${wanted}` : "/");
    const least = Number(wanted.get("flagged") || 0);
    const shown = data.filter(
      (i) =>
        (!wanted.get("case") || i.case_id === wanted.get("case")) &&
        (!wanted.get("status") || i.status === wanted.get("status")) &&
        i.flagged >= least,
    );
    body.replaceChildren(
      ...shown.map((i) =>
        el(
          "tr",
          {},
          el("td", {}, i.case_id),
          el(
            "td",
            {},
            el("a", { href: `/interviews/${encodeURIComponent(i.interview_id)}` }, i.interview_id),
          ),
          el("td", { class: `status-${i.status}` }, STATUS_NAMES()[i.status] || i.status),
          el(
            "td",
            {},
            el("progress", { max: i.segments, value: i.reviewed_segments }),
            ` ${i.reviewed_segments}/${i.segments}`,
          ),
          el("td", {}, i.flagged),
          el("td", {}, i.reviewers.join(", ")),
        ),
      ),
    );
  }
  filter();
  for (const section of hooks.listSections) main.append(await section());
}
