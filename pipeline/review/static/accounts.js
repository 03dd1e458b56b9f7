// The team's accounts for an admin, below the list of interviews: disable or enable accounts
// (new ones come from the command line). The account's name goes in the body, not the address,
// so any name (one with "/" too) can be disabled.
import { ACCOUNT, ROLE, api, el, listTable, setState, t } from "./core.js";
import { hooks } from "./extend.js";

async function accountsSection() {
  const box = el("section", { class: "accounts" });
  const { ok, data } = await api("GET", "/api/accounts");
  if (!ok) return box;
  const state = (a) => (!a.active ? t("disabled") : a.locked ? t("locked") : t("active"));
  const toggle = async (a) => {
    const reply = await api("POST", `/api/accounts/${a.active ? "disable" : "enable"}`, {
      name: a.name,
    });
    if (reply.ok) draw(reply.data);
    else setState(reply.data ? reply.data.error : t("Failed."), true);
  };
  function draw(rows) {
    box.replaceChildren(
      el("h2", {}, t("Accounts")),
      listTable(
        [t("Name"), t("Role"), t("State"), ""],
        el(
          "tbody",
          {},
          rows.map((a) =>
            el(
              "tr",
              { "data-account": a.name },
              el("td", {}, a.name),
              el("td", {}, t(a.role)),
              el("td", { class: "state" }, state(a)),
              el(
                "td",
                {},
                a.name === ACCOUNT
                  ? ""
                  : el(
                      "button",
                      { type: "button", onclick: () => toggle(a) },
                      a.active ? t("Disable") : t("Enable"),
                    ),
              ),
            ),
          ),
        ),
      ),
      el(
        "p",
        { class: "hint" },
        t(
          "New accounts and passwords: testimony reviewers add NAME --role reviewer; testimony reviewers passwd NAME",
        ),
      ),
    );
  }
  draw(data);
  return box;
}

if (ROLE === "admin") hooks.listSections.push(accountsSection);
