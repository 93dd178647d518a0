// The dashboard's entry point: a router on the URL fragment, so that every
// view has a deep link (`/#/repos/owner/name/...`) served by the same page.

import { h } from "./format.js";
import { currentRoute, setCrumbs } from "./nav.js";
import * as repositories from "./views/repositories.js";
import * as benchmarks from "./views/benchmarks.js";
import * as benchmark from "./views/benchmark.js";
import * as runs from "./views/runs.js";
import * as run from "./views/run.js";
import * as compare from "./views/compare.js";
import * as regressions from "./views/regressions.js";

// Each pattern matches the fragment's path; its groups are URL-encoded.
const ROUTES = [
  [/^\/$/, repositories],
  [/^\/repos\/([^/]+)\/([^/]+)$/, benchmarks],
  [/^\/repos\/([^/]+)\/([^/]+)\/benchmarks\/([^/]+)$/, benchmark],
  [/^\/repos\/([^/]+)\/([^/]+)\/runs$/, runs],
  [/^\/repos\/([^/]+)\/([^/]+)\/compare$/, compare],
  [/^\/repos\/([^/]+)\/([^/]+)\/regressions$/, regressions],
  [/^\/runs\/(\d+)$/, run],
];

let cleanup = null;

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const view = document.getElementById("view");
  const { path, query } = currentRoute();
  const match = ROUTES.map(([pattern, module]) => [pattern.exec(path), module]).find(([found]) => found);
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  if (!match) {
    setCrumbs([]);
    view.replaceChildren(h("p", { class: "error" }, `No view for ${path}. `, h("a", { href: "#/" }, "Repositories")));
    return;
  }
  const [found, module] = match;
  try {
    // A malformed escape in a pasted link throws here, and is shown as an error.
    const params = found.slice(1).map((part) => decodeURIComponent(part));
    cleanup = (await module.render(view, params, query)) || null;
  } catch (error) {
    view.replaceChildren(h("p", { class: "error", role: "alert" }, error.message || String(error)));
  }
}

window.addEventListener("hashchange", render);
render();
