// A/A calibration on the repository page: the newest calibration with the
// noise it measured per benchmark, and a form that queues a new one.
// Queueing needs an API token with the `calibrate` scope. The form
// prompts for it once and keeps it in sessionStorage, under the same key
// as the other writes, so it is gone when the tab closes.

import { ApiError, forgetToken, getJson, repositoryPath, sendJson, storedToken } from "./api.js";
import { h, formatDate, shortSha } from "./format.js";

// The noisiest series shown; the API lists them all.
const SHOWN_SERIES = 15;

/** Returns the repository's newest calibrations, newest first. */
export async function loadCalibrations(repository) {
  const { calibrations } = await getJson(`${repositoryPath(repository)}/calibrations`, { limit: 5 });
  return calibrations;
}

/**
 * Returns the calibration panel of a repository page, showing the newest of
 * `calibrations`. After a calibration is queued, the panel reloads the list.
 */
export function calibrationPanel(repository, calibrations) {
  let latestView = latest(calibrations[0]);
  const status = h("p", { class: "muted", id: "calibration-status", role: "status" });
  const fail = (error) => {
    if (error instanceof ApiError && error.status === 401) forgetToken();
    status.className = "error";
    status.textContent = error instanceof ApiError ? error.message : String(error);
  };

  const sha = h("input", { name: "sha", placeholder: "Commit (default: newest benchmarked)", "aria-label": "Commit", size: 42 });
  const machine = h("input", { name: "machine", placeholder: "Machine (default: any)", "aria-label": "Machine", size: 20 });
  const passes = h("input", { name: "passes", type: "number", min: 2, max: 10, value: 2, "aria-label": "Passes" });
  const form = h("form", {
    class: "calibration-form",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const token = await calibrateToken();
        const body = { passes: Number(passes.value) };
        if (sha.value.trim()) body.sha = sha.value.trim();
        if (machine.value.trim()) body.machine = machine.value.trim();
        const queued = await sendJson("POST", `${repositoryPath(repository)}/calibrations`, token, body);
        status.className = "muted";
        status.textContent = queued.created
          ? `Queued calibration job #${queued.job_id} for ${shortSha(queued.sha)}.`
          : `Calibration job #${queued.job_id} for ${shortSha(queued.sha)} is already queued or running.`;
        const fresh = latest((await loadCalibrations(repository))[0]);
        latestView.replaceWith(fresh);
        latestView = fresh;
      } catch (error) {
        fail(error);
      }
    },
  },
  sha, machine, h("label", {}, "Passes ", passes), h("button", { type: "submit" }, "Calibrate"));

  return h("section", { class: "calibration", id: "calibration" },
    h("h2", {}, "Calibration"),
    h("p", { class: "muted" },
      "An A/A run benchmarks one commit twice or more on one machine. Where a benchmark has fewer than ten "
      + "default-branch results, three times the difference between the passes is its noise threshold."),
    latestView,
    form,
    status);
}

/** Returns the description of the newest calibration with its noisiest series. */
function latest(calibration) {
  if (!calibration) return h("p", { class: "muted", id: "calibration-latest" }, "No calibration yet.");
  const where = calibration.machine ?? calibration.required_machine ?? "any machine";
  const summary = h("p", { id: "calibration-latest" },
    `Job #${calibration.job_id}: ${calibration.passes} passes of ${shortSha(calibration.sha)} on ${where}, `,
    h("span", { class: `state state-${calibration.state}` }, calibration.state),
    calibration.finished_at ? ` ${formatDate(calibration.finished_at)} UTC` : "",
    calibration.error ? h("span", { class: "error" }, ` ${calibration.error}`) : "");
  if (calibration.noise.length === 0) return summary;

  const noisiest = [...calibration.noise]
    .sort((a, b) => (b.relative_difference ?? -1) - (a.relative_difference ?? -1))
    .slice(0, SHOWN_SERIES);
  const percent = (fraction) => (fraction == null ? "" : `${(fraction * 100).toFixed(1)}%`);
  const rows = noisiest.map((series) => h("tr", {},
    h("td", { class: "mono" }, series.name),
    h("td", {}, `${series.machine} · ${series.environment}`),
    h("td", { class: "number" }, percent(series.relative_difference)),
    h("td", { class: "number" }, percent(series.sample_spread))));
  return h("div", {},
    summary,
    h("table", { id: "calibration-noise" },
      h("caption", {}, `The ${noisiest.length} noisiest of ${calibration.noise.length} series`),
      h("thead", {}, h("tr", {},
        h("th", {}, "Benchmark"), h("th", {}, "Machine · environment"),
        h("th", {}, "Difference between passes"), h("th", {}, "Sample spread (IQR / median)"))),
      h("tbody", {}, rows)));
}

/**
 * Returns the kept API token, or prompts for one and checks that it has the
 * `calibrate` scope before keeping it.
 */
async function calibrateToken() {
  const stored = storedToken();
  if (stored) return stored;
  const token = (window.prompt("API token with the calibrate scope (from `pitot api-token create NAME --scope calibrate`)") ?? "").trim();
  if (!token) throw new Error("No API token given, so nothing was queued.");
  const response = await fetch(new URL("/api/v1/token", window.location.origin), {
    headers: { accept: "application/json", authorization: `Bearer ${token}` },
  });
  const holder = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, holder.error ?? `${response.status} ${response.statusText}`);
  if (!holder.scopes.includes("calibrate")) {
    throw new Error(`The token of ${holder.name} lacks the calibrate scope: create one with \`pitot api-token create NAME --scope calibrate\`.`);
  }
  window.sessionStorage.setItem("pitot.apiToken", token);
  return token;
}
