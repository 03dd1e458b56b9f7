// The name recorded in the audit log: the account's, or in single-token mode the name typed
// on this page (asked once per browser, kept in localStorage).
import { $, ACCOUNT, t } from "./core.js";

const NAME_KEY = "testimony-reviewer";

export function reviewer() {
  return ACCOUNT || localStorage.getItem(NAME_KEY) || "";
}

export function askName() {
  return new Promise((resolve) => {
    const dialog = $("#name-dialog");
    $("#name-input").value = reviewer();
    dialog.addEventListener(
      "close",
      () => {
        const name = $("#name-input").value.trim();
        if (name) localStorage.setItem(NAME_KEY, name);
        showName();
        resolve(reviewer());
      },
      { once: true },
    );
    dialog.showModal();
  });
}

export function showName() {
  if (ACCOUNT) return; // the account's name, shown by the server
  $("#who").textContent = reviewer()
    ? t("Reviewing as {name}", { name: reviewer() })
    : t("Set your name");
}

if (!ACCOUNT) $("#who").addEventListener("click", askName);
