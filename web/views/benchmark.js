// One benchmark: the history chart of one of its series, with the choice
// of machine and environment and of parameter values, and its quarantine.

import { getJson, repositoryPath } from "../api.js";
import { h, formatValue, formatDate, shortSha, commitUrl } from "../format.js";
import { link, setCrumbs } from "../nav.js";
import { drawHistoryChart } from "../history_chart.js";
import { loadQuarantines, quarantineBadge, quarantinePanel } from "../quarantine.js";

export async function render(view, [owner, name, benchmarkName], query) {
  const repository = `${owner}/${name}`;
  setCrumbs([["Repositories", "#/"], [repository, link(["repos", owner, name])], [benchmarkName, null]]);
  const [{ benchmark, series }, quarantines] = await Promise.all([
    getJson(`${repositoryPath(repository)}/benchmarks/${encodeURIComponent(benchmarkName)}`),
    loadQuarantines(repository),
  ]);
  const quarantine = quarantines.get(benchmark.name);
  const title = h("h1", {}, benchmark.name, quarantine ? [" ", quarantineBadge(quarantine)] : null);
  // After a write the app renders the view again, which also stops the chart.
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const panel = quarantinePanel(repository, benchmark.name, quarantine, rerender);
  if (series.length === 0) {
    view.replaceChildren(title, h("p", { class: "muted" }, "This benchmark has no results."), panel);
    return;
  }
  const requested = Number(query.get("series"));
  const chosen = series.find((candidate) => candidate.id === requested) ?? series[0];
  const history = await getJson(`${repositoryPath(repository)}/series/${chosen.id}`);

  const go = (candidate) => {
    window.location.hash = link(["repos", owner, name, "benchmarks", benchmark.name], { series: candidate.id });
  };
  const chartBox = h("div", { class: "chart-box", id: "history-chart" });
  const selected = h("div", { id: "selected-point", class: "muted" }, "Click a point to select its commit.");
  view.replaceChildren(
    title,
    h("div", { class: "toolbar" }, machinePicker(series, chosen, go), paramsPicker(benchmark, series, chosen, go)),
    facts(benchmark, history),
    h("p", { class: "chart-help" }, "Drag to zoom, Shift+drag to pan, wheel to zoom, double-click to reset. The band is the 99% interval; large dots are failed (red) and skipped (grey) results."),
    chartBox,
    selected,
    panel,
  );
  return drawHistoryChart(chartBox, history, (point) => showSelected(selected, history, point, owner, name));
}

function machinePicker(series, chosen, go) {
  const pairs = [...new Map(series.map((s) => [`${s.machine}\u0000${s.environment}`, s])).values()];
  const select = h("select", {
    "aria-label": "Machine and environment",
    onchange: (event) => {
      const [machine, environment] = JSON.parse(event.target.value);
      const sameParams = series.find((s) => s.machine === machine && s.environment === environment
        && s.params.join() === chosen.params.join());
      go(sameParams ?? series.find((s) => s.machine === machine && s.environment === environment));
    },
  });
  for (const pair of pairs) {
    const selected = pair.machine === chosen.machine && pair.environment === chosen.environment;
    select.append(h("option", { value: JSON.stringify([pair.machine, pair.environment]), selected },
      `${pair.machine} · ${pair.environment}`));
  }
  return h("label", {}, "Machine ", select);
}

function paramsPicker(benchmark, series, chosen, go) {
  const onPair = series.filter((s) => s.machine === chosen.machine && s.environment === chosen.environment);
  if (onPair.every((s) => s.params.length === 0)) return null;
  const names = benchmark.param_names.length ? benchmark.param_names.join(", ") : "Parameters";
  const select = h("select", {
    "aria-label": "Parameters",
    onchange: (event) => go(onPair.find((s) => String(s.id) === event.target.value)),
  });
  for (const candidate of onPair) {
    select.append(h("option", { value: candidate.id, selected: candidate.id === chosen.id }, candidate.params.join(", ")));
  }
  return h("label", {}, `${names} `, select);
}

function facts(benchmark, history) {
  const { points } = history;
  const failed = points.state.filter((state) => state === "failed").length;
  const undated = points.committed_at.filter((date) => date === null).length;
  return h("dl", { class: "facts" },
    h("dt", {}, "Series"), h("dd", {}, h("code", {}, history.series.name)),
    h("dt", {}, "Module"), h("dd", {}, h("code", {}, benchmark.group)),
    h("dt", {}, "Type and unit"), h("dd", {}, `${benchmark.kind ?? "unknown"}, ${benchmark.unit ?? "unknown unit"}`),
    h("dt", {}, "Results"), h("dd", {},
      `${points.commit.length} results, ${failed} failed`,
      undated ? `, ${undated} without a commit date (not drawn)` : ""),
  );
}

function showSelected(panel, history, point, owner, name) {
  const { points, series } = history;
  const sha = points.commit[point];
  const url = commitUrl(history.commit_url, sha);
  const value = points.state[point] === "value" ? formatValue(points.value[point], series.unit) : points.state[point];
  const previous = point > 0 ? points.commit[point - 1] : null;
  panel.className = "";
  panel.replaceChildren(
    "Selected ",
    url ? h("a", { href: url, target: "_blank", rel: "noopener" }, h("code", {}, shortSha(sha))) : h("code", {}, shortSha(sha)),
    ` ${formatDate(points.committed_at[point])} UTC: ${value}. `,
    previous
      ? h("a", { href: link(["repos", owner, name, "compare"], { machine: series.machine, environment: series.environment, base: previous, head: sha }) },
        "Compare with the previous result")
      : null,
  );
}
