// The list of repositories: where every visit starts.

import { getJson } from "../api.js";
import { h, formatDate } from "../format.js";
import { link, setCrumbs } from "../nav.js";

export async function render(view) {
  setCrumbs([["Repositories", null]]);
  const { repositories } = await getJson("/repositories");
  if (repositories.length === 0) {
    view.replaceChildren(
      h("h1", {}, "Repositories"),
      h("p", { class: "muted" }, "No repository has results yet. Import an asv results folder with `pitot import`, or label a pull request."),
    );
    return;
  }
  const rows = repositories.map((repository) => {
    const [owner, name] = repository.name.split("/");
    return h("tr", {},
      h("td", {}, h("a", { href: link(["repos", owner, name]) }, repository.name)),
      h("td", { class: "num" }, repository.benchmarks),
      h("td", { class: "num" }, repository.machines),
      h("td", { class: "num" }, repository.runs),
      h("td", { class: "num" }, repository.jobs > 0
        ? h("a", { href: link(["repos", owner, name, "runs"]) }, repository.jobs)
        : "0"),
      h("td", {}, formatDate(repository.latest_commit_at)),
    );
  });
  view.replaceChildren(
    h("h1", {}, "Repositories"),
    h("table", {},
      h("thead", {}, h("tr", {},
        h("th", {}, "Repository"), h("th", { class: "num" }, "Benchmarks"), h("th", { class: "num" }, "Machines"),
        h("th", { class: "num" }, "Stored runs"), h("th", { class: "num" }, "Jobs"), h("th", {}, "Newest commit (UTC)"))),
      h("tbody", {}, rows)),
  );
}
