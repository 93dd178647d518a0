// Comparing any two stored commits on one machine.

import { getJson, repositoryPath } from "../api.js";
import { h, shortSha } from "../format.js";
import { link, setCrumbs } from "../nav.js";
import { loadQuarantines } from "../quarantine.js";
import { comparisonTable } from "./comparison_table.js";

export async function render(view, [owner, name], query) {
  const repository = `${owner}/${name}`;
  setCrumbs([["Repositories", "#/"], [repository, link(["repos", owner, name])], ["Compare", null]]);
  const overview = await getJson(`${repositoryPath(repository)}/benchmarks`, { points: 2 });
  const machines = [...new Set(overview.machines.map((pair) => pair.machine))];
  const machine = query.get("machine") || overview.machine || "";
  const values = {
    machine,
    environment: query.get("environment") || "",
    base: query.get("base") || "",
    head: query.get("head") || "",
  };

  const machineSelect = h("select", { name: "machine", id: "compare-machine" },
    machines.map((candidate) => h("option", { value: candidate, selected: candidate === machine }, candidate)));
  const input = (field, label) => [
    h("label", { for: `compare-${field}` }, label),
    h("input", {
      id: `compare-${field}`,
      name: field,
      value: values[field],
      placeholder: field === "environment" ? "any, or an asv environment name" : "full sha or a prefix of 4 or more digits",
      required: field !== "environment",
    }),
  ];
  const form = h("form", {
    class: "compare",
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      window.location.hash = link(["repos", owner, name, "compare"], Object.fromEntries(data.entries()));
    },
  },
  h("label", { for: "compare-machine" }, "Machine"), machineSelect,
  ...input("base", "Base commit"),
  ...input("head", "Head commit"),
  ...input("environment", "Environment"),
  h("span", {}), h("button", { type: "submit" }, "Compare"));

  const result = h("div", { id: "compare-result" });
  view.replaceChildren(h("h1", {}, `Compare two commits of ${repository}`), form, result);
  if (!values.base || !values.head || !values.machine) return;

  result.replaceChildren(h("p", { class: "muted" }, "Comparing…"));
  try {
    const [compared, quarantines] = await Promise.all([
      getJson(`${repositoryPath(repository)}/compare`, values),
      loadQuarantines(repository),
    ]);
    result.replaceChildren(
      h("h2", {}, `${shortSha(compared.base)} → ${shortSha(compared.head)} on ${compared.machine}`),
      ...comparisonTable(compared.comparison, repository, quarantines),
    );
  } catch (error) {
    result.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
  }
}
