// One run: its state, the comparison table, the summary chart, the
// agent's log and the raw results files.

import { getJson } from "../api.js";
import { h, formatDate } from "../format.js";
import { link, setCrumbs } from "../nav.js";
import { comparisonTable } from "./comparison_table.js";
import { loadQuarantines } from "../quarantine.js";

export async function render(view, [jobId]) {
  const detail = await getJson(`/jobs/${jobId}`);
  const { job, repository } = detail;
  const [owner, name] = repository.split("/");
  setCrumbs([["Repositories", "#/"], [repository, link(["repos", owner, name])],
    ["Runs", link(["repos", owner, name, "runs"])], [`#${job.id}`, null]]);

  const parts = [
    h("h1", {}, `Run #${job.id}`, job.pr_number ? ` of pull request ${job.pr_number}` : ""),
    h("dl", { class: "facts" },
      h("dt", {}, "State"), h("dd", {}, h("span", { class: `state state-${job.state}` }, job.state)),
      h("dt", {}, "Head"), h("dd", { class: "mono" }, job.head_sha),
      h("dt", {}, "Base (merge-base)"), h("dd", { class: "mono" }, job.base_sha ?? "not known yet"),
      h("dt", {}, "Machine"), h("dd", {}, job.machine ?? ""),
      h("dt", {}, "Queued"), h("dd", {}, `${formatDate(job.created_at)} UTC`),
      h("dt", {}, "Finished"), h("dd", {}, job.finished_at ? `${formatDate(job.finished_at)} UTC` : ""),
      job.error ? [h("dt", {}, "Error"), h("dd", { class: "failed" }, job.error)] : null,
    ),
  ];
  const downloads = [];
  if (detail.log_url) downloads.push(h("li", {}, h("a", { href: detail.log_url }, "Agent log")));
  for (const file of detail.files) {
    downloads.push(h("li", {}, h("a", { href: file.url, download: "" }, h("code", {}, file.path))));
  }
  if (downloads.length) parts.push(h("h2", {}, "Log and results files"), h("ul", { class: "downloads" }, downloads));

  if (detail.charts) {
    parts.push(h("h2", {}, "Chart"),
      h("img", { class: "summary-chart", src: detail.charts.summary_url, alt: "Head/base ratio of each benchmark, log scale" }));
  }
  parts.push(h("h2", {}, "Comparison"));
  if (detail.comparison) {
    // The badges show today's quarantines, which may differ from the ones
    // in force when the run's comment was written.
    const quarantines = await loadQuarantines(repository);
    parts.push(...comparisonTable(detail.comparison, repository, quarantines));
  } else {
    parts.push(h("p", { class: "muted" }, detail.comparison_error ?? "No comparison yet."));
  }
  view.replaceChildren(...parts);
}
