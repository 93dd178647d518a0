// A repository's runs: the benchmark jobs of its pull requests, newest first.

import { getJson, repositoryPath } from "../api.js";
import { h, formatDate, shortSha } from "../format.js";
import { link, setCrumbs } from "../nav.js";

const PAGE_SIZE = 50;

export async function render(view, [owner, name], query) {
  const repository = `${owner}/${name}`;
  setCrumbs([["Repositories", "#/"], [repository, link(["repos", owner, name])], ["Runs", null]]);
  const { jobs } = await getJson(`${repositoryPath(repository)}/jobs`, {
    before: query.get("before"),
    limit: PAGE_SIZE,
  });
  if (jobs.length === 0) {
    view.replaceChildren(h("h1", {}, `Runs of ${repository}`), h("p", { class: "muted" }, "No runs yet."));
    return;
  }
  const rows = jobs.map((job) => h("tr", { "data-job": job.id },
    h("td", {}, h("a", { href: link(["runs", String(job.id)]) }, `#${job.id}`)),
    h("td", {}, h("span", { class: `state state-${job.state}` }, job.state)),
    h("td", {}, job.pr_number ? `PR ${job.pr_number}` : ""),
    h("td", { class: "mono" }, shortSha(job.base_sha), " → ", shortSha(job.head_sha)),
    h("td", {}, job.machine ?? ""),
    h("td", {}, formatDate(job.created_at)),
    h("td", {}, formatDate(job.finished_at)),
    h("td", { class: "muted" }, job.error ?? ""),
  ));
  // The API returns at most PAGE_SIZE jobs, so a shorter page is the last one.
  const last = jobs[jobs.length - 1].id;
  const older = jobs.length >= PAGE_SIZE
    ? h("p", {}, h("a", { href: link(["repos", owner, name, "runs"], { before: last }) }, "Older runs"))
    : null;
  view.replaceChildren(
    h("h1", {}, `Runs of ${repository}`),
    h("table", {},
      h("thead", {}, h("tr", {},
        h("th", {}, "Run"), h("th", {}, "State"), h("th", {}, "Pull request"), h("th", {}, "Base → head"),
        h("th", {}, "Machine"), h("th", {}, "Queued (UTC)"), h("th", {}, "Finished (UTC)"), h("th", {}, "Error"))),
      h("tbody", {}, rows)),
    older,
  );
}
