// A repository's detected change points, newest first, with a select per
// row that sets the triage state through the API. The first change prompts
// for an API token with the triage scope and keeps it in sessionStorage.

import { askForToken, getJson, repositoryPath, sendJson } from "../api.js";
import { h, formatChange, formatDate, shortSha } from "../format.js";
import { link, replaceQuery, setCrumbs } from "../nav.js";

const STATES = ["untriaged", "acknowledged", "investigating", "fixed", "wont_fix", "false_alarm"];

export async function render(view, [owner, name], query) {
  const repository = `${owner}/${name}`;
  setCrumbs([["Repositories", "#/"], [repository, link(["repos", owner, name])], ["Regressions", null]]);
  const state = query.get("state") ?? "";
  const { regressions } = await getJson(`${repositoryPath(repository)}/regressions`, { state });

  const filter = h("select", { "aria-label": "Triage state" },
    h("option", { value: "" }, "all states"),
    ...STATES.map((option) => h("option", { value: option, selected: option === state }, option)));
  filter.addEventListener("change", () => {
    replaceQuery({ state: filter.value });
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  const status = h("p", { class: "muted", role: "status" });
  const heading = [h("h1", {}, `Regressions of ${repository}`), h("div", { class: "toolbar" }, filter), status];
  if (regressions.length === 0) {
    view.replaceChildren(...heading, h("p", { class: "muted" }, "No change points detected."));
    return;
  }
  const rows = regressions.map((regression) => row(regression, owner, name, status));
  view.replaceChildren(...heading,
    h("table", {},
      h("thead", {}, h("tr", {},
        h("th", {}, "Benchmark"), h("th", {}, "Machine"), h("th", {}, "Change"),
        h("th", {}, "Commits (before → after)"), h("th", {}, "Date (UTC)"), h("th", {}, "Triage"), h("th", {}, "Note"))),
      h("tbody", {}, rows)));
}

function row(regression, owner, name, status) {
  const select = h("select", { "aria-label": `Triage state of ${regression.name}` },
    ...STATES.map((option) => h("option", { value: option, selected: option === regression.state }, option)));
  const changedBy = h("span", { class: "muted" }, changeText(regression));
  select.addEventListener("change", async () => {
    const requested = select.value;
    try {
      const holder = await askForToken();
      if (!holder) {
        select.value = regression.state;
        return;
      }
      const note = window.prompt(`Note for ${regression.name} (optional):`, regression.note ?? "") ?? regression.note;
      const updated = await sendJson("PATCH", `/regressions/${regression.id}`, holder.token, { state: requested, note });
      Object.assign(regression, updated);
      changedBy.textContent = changeText(regression);
      status.textContent = `Set ${regression.name} to ${requested}.`;
    } catch (error) {
      select.value = regression.state;
      status.textContent = error.message || String(error);
    }
  });
  return h("tr", { "data-regression": regression.id },
    h("td", {}, h("a", { href: link(["repos", owner, name, "benchmarks", regression.benchmark]) }, regression.name)),
    h("td", {}, regression.machine),
    h("td", { class: regression.direction }, regression.ratio === null ? regression.direction : `${formatChange(regression.ratio)} ${regression.direction}`),
    h("td", { class: "mono" }, shortSha(regression.before_commit), " → ", shortSha(regression.after_commit)),
    h("td", {}, formatDate(regression.after_committed_at)),
    h("td", {}, select),
    h("td", {}, changedBy),
  );
}

function changeText(regression) {
  if (!regression.state_changed_by) return "";
  const note = regression.note ? `: ${regression.note}` : "";
  return `${regression.state_changed_by}, ${formatDate(regression.state_changed_at)}${note}`;
}
