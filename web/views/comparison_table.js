// The table of a comparison in `pitot compare --format json`'s layout,
// shared by the run page and the compare view.

import { h, formatValue } from "../format.js";
import { link } from "../nav.js";
import { quarantineBadge } from "../quarantine.js";

const ORDER = { worse: 0, better: 1, not_comparable: 2, unchanged: 3 };
const CHANGE_CLASSES = { worse: "worse", better: "better" };
const LABELS = { worse: "worse", better: "better", not_comparable: "not comparable", unchanged: "unchanged" };

/**
 * Returns the summary line and the table of a comparison of `repository`,
 * changed rows first, each benchmark linked to its history. `quarantines`,
 * a Map by benchmark name, adds a badge to the rows of the benchmarks that
 * are quarantined now.
 */
export function comparisonTable(comparison, repository, quarantines = new Map()) {
  const [owner, name] = repository.split("/");
  const { summary } = comparison;
  const rows = [...comparison.rows].sort((a, b) => ORDER[a.change] - ORDER[b.change] || a.name.localeCompare(b.name));
  const side = (result, unit) => result.state === "value"
    ? formatValue(result.value, unit)
    : h("span", { class: result.state === "failed" ? "failed" : "muted" }, result.state);
  const body = rows.map((row) => h("tr", { class: `change-${row.change}` },
    h("td", { class: CHANGE_CLASSES[row.change] ?? "muted" }, LABELS[row.change] ?? row.change),
    h("td", { class: "name" },
      h("a", { href: link(["repos", owner, name, "benchmarks", row.benchmark]) }, h("code", {}, row.name)),
      quarantines.has(row.benchmark) ? [" ", quarantineBadge(quarantines.get(row.benchmark))] : null),
    h("td", {}, `${row.machine} · ${row.env}`),
    h("td", { class: "num" }, side(row.before, row.unit)),
    h("td", { class: "num" }, side(row.after, row.unit)),
    h("td", { class: "num" }, row.ratio === null ? "" : row.ratio.toFixed(3)),
    h("td", { class: "muted" }, row.verdict ? row.verdict.finding.replaceAll("_", " ") : ""),
  ));
  return [
    h("p", { class: "comparison-summary" },
      h("span", { class: "worse" }, `${summary.worse} worse`), ", ",
      h("span", { class: "better" }, `${summary.better} better`), ", ",
      `${summary.not_comparable} not comparable, ${summary.unchanged} unchanged, of ${summary.total}.`),
    h("table", { class: "comparison" },
      h("thead", {}, h("tr", {},
        h("th", {}, "Change"), h("th", {}, "Benchmark"), h("th", {}, "Machine · environment"),
        h("th", { class: "num" }, "Before"), h("th", { class: "num" }, "After"), h("th", { class: "num" }, "Ratio"),
        h("th", {}, "pitot's verdict"))),
      h("tbody", {}, body)),
  ];
}
