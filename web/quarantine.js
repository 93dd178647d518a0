// Quarantined benchmarks on the dashboard: a badge with the kind, reason,
// expiry and who set it, and the form that sets or lifts a quarantine.
// Writing needs an API token with the `quarantine` scope. The form
// prompts for it once and keeps it in sessionStorage, so it is gone when
// the tab closes.

import { ApiError, getJson, repositoryPath, sendJson } from "./api.js";
import { h } from "./format.js";

// The same key as api.js's, so one token serves every write of the tab.
const TOKEN_KEY = "pitot.apiToken";

/** Returns the repository's active quarantines as a Map by benchmark name. */
export async function loadQuarantines(repository) {
  const { quarantines } = await getJson(`${repositoryPath(repository)}/quarantines`);
  return new Map(quarantines.map((quarantine) => [quarantine.benchmark, quarantine]));
}

/** Returns a one-line description: kind, reason, expiry and who set it. */
export function describe(quarantine) {
  const until = quarantine.expires_at ? `, until ${quarantine.expires_at.slice(0, 16).replace("T", " ")} UTC` : "";
  return `Quarantined as ${quarantine.kind} by ${quarantine.created_by}${until}: ${quarantine.reason}`;
}

/** Returns the badge of a quarantined benchmark, or null for none. */
export function quarantineBadge(quarantine) {
  if (!quarantine) return null;
  return h("span", { class: `badge badge-${quarantine.kind}`, title: describe(quarantine) },
    `quarantined (${quarantine.kind})`);
}

/**
 * Returns the quarantine panel of a benchmark page: its quarantine, and a
 * form to set or lift one. `onChange` runs after a write succeeds.
 */
export function quarantinePanel(repository, benchmark, quarantine, onChange) {
  const status = h("p", { class: "muted", id: "quarantine-status", role: "status" });
  const fail = (error) => {
    // A revoked token stays revoked, so the next write prompts for a new one.
    if (error instanceof ApiError && error.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    status.className = "error";
    status.textContent = error instanceof ApiError ? error.message : String(error);
  };
  const path = `${repositoryPath(repository)}/quarantines/${encodeURIComponent(benchmark)}`;

  const kind = h("select", { name: "kind", "aria-label": "Quarantine kind" },
    h("option", { value: "noisy" }, "noisy: shown, never fails the check"),
    h("option", { value: "ignored" }, "ignored: only counted"));
  const reason = h("input", { name: "reason", required: true, placeholder: "Reason", "aria-label": "Reason", size: 40 });
  const until = h("input", { name: "until", type: "date", "aria-label": "Last day (UTC)" });
  const form = h("form", {
    class: "quarantine-form",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const token = await apiToken();
        const body = { kind: kind.value, reason: reason.value };
        if (until.value) body.expires_at = dayAfter(until.value);
        await sendJson("PUT", path, token, body);
        onChange();
      } catch (error) {
        fail(error);
      }
    },
  },
  kind, reason, h("label", {}, "Last day ", until), h("button", { type: "submit" }, quarantine ? "Replace" : "Quarantine"));

  const lift = quarantine
    ? h("button", {
      type: "button",
      id: "lift-quarantine",
      onclick: async () => {
        try {
          await sendJson("DELETE", path, await apiToken());
          onChange();
        } catch (error) {
          fail(error);
        }
      },
    }, "Lift quarantine")
    : null;

  return h("section", { class: "quarantine", id: "quarantine" },
    h("h2", {}, "Quarantine"),
    quarantine
      ? h("p", {}, quarantineBadge(quarantine), " ", describe(quarantine), " ", lift)
      : h("p", { class: "muted" }, "Not quarantined: a regression of this benchmark fails the pull request's check."),
    form,
    status);
}

/**
 * Returns the stored API token, or prompts for one and checks that it has the
 * `quarantine` scope before keeping it.
 */
async function apiToken() {
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) return stored;
  const token = (window.prompt("API token with the quarantine scope (from `pitot api-token create NAME --scope quarantine`)") ?? "").trim();
  if (!token) throw new Error("No API token given, so nothing was changed.");
  const response = await fetch(new URL("/api/v1/token", window.location.origin), {
    headers: { accept: "application/json", authorization: `Bearer ${token}` },
  });
  const holder = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, holder.error ?? `${response.status} ${response.statusText}`);
  if (!holder.scopes.includes("quarantine")) {
    throw new Error(`The token of ${holder.name} lacks the quarantine scope: create one with \`pitot api-token create NAME --scope quarantine\`.`);
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return token;
}

/** Returns the start of the day after `day` (YYYY-MM-DD) in UTC, the expiry of a quarantine whose last day is `day`. */
function dayAfter(day) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}
