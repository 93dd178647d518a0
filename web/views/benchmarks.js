// A repository's benchmarks on one machine and environment: grouped by
// module, searchable by name, with the latest value, its change and a
// sparkline each. A suite can have thousands of series, so a group's rows
// are built only when it is opened, and a search shows at most
// MAX_SEARCH_ROWS matches. Quarantined benchmarks carry a badge. The A/A
// calibration panel follows the groups.

import { getJson, repositoryPath } from "../api.js";
import { h, formatValue, formatChange, changeClass, formatDate, shortSha, sparkline } from "../format.js";
import { link, replaceQuery, setCrumbs } from "../nav.js";
import { loadQuarantines, quarantineBadge } from "../quarantine.js";
import { calibrationPanel, loadCalibrations } from "../calibration.js";

const MAX_SEARCH_ROWS = 500;

export async function render(view, [owner, name], query) {
  const repository = `${owner}/${name}`;
  setCrumbs([["Repositories", "#/"], [repository, null]]);
  const [overview, quarantines, calibrations] = await Promise.all([
    getJson(`${repositoryPath(repository)}/benchmarks`, {
      machine: query.get("machine"),
      environment: query.get("environment"),
    }),
    loadQuarantines(repository),
    loadCalibrations(repository),
  ]);
  overview.quarantines = quarantines;
  const state = { search: query.get("q") || "" };

  const results = h("div", { id: "benchmark-groups" });
  const summary = h("p", { class: "muted", id: "benchmark-count" });
  const draw = () => {
    drawGroups(results, summary, overview, repository, state.search);
    replaceQuery({ machine: overview.machine, environment: overview.environment, q: state.search });
  };

  let timer = null;
  const search = h("input", {
    type: "search",
    placeholder: "Search benchmarks by name",
    "aria-label": "Search benchmarks by name",
    value: state.search,
    oninput: (event) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state.search = event.target.value.trim();
        draw();
      }, 150);
    },
  });

  view.replaceChildren(
    h("h1", {}, overview.repository),
    h("div", { class: "toolbar" },
      machinePicker(overview, repository),
      search,
      h("a", { href: link(["repos", owner, name, "runs"]) }, "Runs"),
      h("a", { href: link(["repos", owner, name, "regressions"]) }, "Regressions"),
      h("a", { href: link(["repos", owner, name, "compare"], { machine: overview.machine }) }, "Compare two commits"),
    ),
    summary,
    results,
    calibrationPanel(repository, calibrations),
  );
  draw();
  return () => clearTimeout(timer);
}

function machinePicker(overview, repository) {
  if (overview.machines.length === 0) return h("span", { class: "muted" }, "No results yet");
  const [owner, name] = repository.split("/");
  const select = h("select", {
    "aria-label": "Machine and environment",
    onchange: (event) => {
      const [machine, environment] = JSON.parse(event.target.value);
      window.location.hash = link(["repos", owner, name], { machine, environment });
    },
  });
  for (const pair of overview.machines) {
    const value = JSON.stringify([pair.machine, pair.environment]);
    const chosen = pair.machine === overview.machine && pair.environment === overview.environment;
    select.append(h("option", { value, selected: chosen }, `${pair.machine} · ${pair.environment} (${pair.series} series)`));
  }
  return h("label", {}, "Machine ", select);
}

function drawGroups(container, summary, overview, repository, search) {
  const needle = search.toLowerCase();
  const matching = needle
    ? overview.series.filter((series) => series.name.toLowerCase().includes(needle))
    : overview.series;
  const groups = new Map();
  for (const series of matching) {
    if (!groups.has(series.group)) groups.set(series.group, []);
    groups.get(series.group).push(series);
  }
  summary.textContent = needle
    ? `${matching.length} of ${overview.series.length} series match “${search}”`
    : `${overview.series.length} series in ${groups.size} modules on ${overview.machine ?? "no machine"} · ${overview.environment ?? ""}`;

  let budget = MAX_SEARCH_ROWS;
  const elements = [];
  for (const [group, members] of groups) {
    const details = h("details", { class: "group", "data-group": group },
      h("summary", {}, h("code", {}, group), h("span", { class: "count" }, `${members.length} series`)));
    const fill = () => {
      if (details.dataset.filled) return;
      details.dataset.filled = "yes";
      details.append(seriesTable(members, repository, overview));
    };
    details.addEventListener("toggle", () => details.open && fill());
    // While searching, open groups until the row budget is spent.
    if (needle && budget > 0) {
      budget -= members.length;
      details.open = true;
      fill();
    }
    elements.push(details);
  }
  if (needle && budget < 0) {
    elements.unshift(h("p", { class: "more" }, `Showing the first groups; refine the search to see all ${matching.length} matches.`));
  }
  if (elements.length === 0) elements.push(h("p", { class: "muted" }, "No benchmark matches."));
  container.replaceChildren(...elements);
}

function seriesTable(members, repository, overview) {
  const [owner, name] = repository.split("/");
  const rows = members.map((series) => {
    const href = link(["repos", owner, name, "benchmarks", series.benchmark], { series: series.id });
    const latest = series.latest.state === "value"
      ? formatValue(series.latest.value, series.unit)
      : h("span", { class: "failed" }, series.latest.state);
    return h("tr", { "data-series": series.id },
      h("td", { class: "name" }, h("a", { href }, series.name), badgeOf(overview.quarantines.get(series.benchmark))),
      h("td", { class: "num" }, latest),
      h("td", { class: `num ${changeClass(series.change)}` }, formatChange(series.change)),
      h("td", {}, sparkline(series.sparkline)),
      h("td", { class: "mono", title: formatDate(series.latest.committed_at) }, shortSha(series.latest.commit)),
    );
  });
  return h("table", {},
    h("thead", {}, h("tr", {},
      h("th", {}, "Benchmark"), h("th", { class: "num" }, "Latest"), h("th", { class: "num" }, "Change"),
      h("th", {}, "Recent results"), h("th", {}, "Commit"))),
    h("tbody", {}, rows));
}

/** Returns a space and the quarantine badge, or null when not quarantined. */
function badgeOf(quarantine) {
  return quarantine ? [" ", quarantineBadge(quarantine)] : null;
}
