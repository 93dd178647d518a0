// Browser tests of the dashboard: a real `pitot serve` on a seeded
// database, driven in Debian's headless Chromium through playwright-core.
//
// The seed is asv's own example results (`tests/fixtures/asv/example_results`,
// imported with `pitot import`) and one pull-request job. The job goes
// through the real webhook and agent API, with the django-asv fixture as
// merge-base and the same file with one benchmark 3 times slower as head. Each view is
// opened as a person would, asserted on what it shows, and saved as a
// screenshot under docs/screenshots/.
//
// Environment: PITOT_BIN (the built binary), PITOT_TEST_SERVER (a
// PostgreSQL server URL whose role may create databases, default
// postgres://postgres@127.0.0.1:5432), CHROMIUM (default /usr/bin/chromium).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PITOT = process.env.PITOT_BIN ?? join(ROOT, "target", "debug", "pitot");
const SERVER = process.env.PITOT_TEST_SERVER ?? "postgres://postgres@127.0.0.1:5432";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = join(ROOT, "docs", "screenshots");
const SECRET = "browser-test-secret";
const DATABASE = `pitot_browser_${process.pid}`;
const EXAMPLE_REPO = "local/example_results";
const PR_REPO = "Codertocat/Hello-World";
const MERGE_BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const SLOWED = "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean";
const CHARTED = "time_units.time_unit_parse";

let server;
let serverLog = "";
let baseUrl;
let browser;
let jobId;

/** Runs psql against the maintenance database. */
function psql(sql) {
  execFileSync("psql", ["-q", "-v", "ON_ERROR_STOP=1", `${SERVER}/postgres`, "-c", sql]);
}

/**
 * Stores a made-up change point of CHARTED between its first and last
 * commits, so the regressions view has a row whatever detection finds in
 * the short example history.
 */
function seedChangePoint() {
  const sql = `
    INSERT INTO regressions (repository_id, series_id, before_commit_id, after_commit_id,
                             mean_before, mean_after, ratio, p_value, direction)
    SELECT b.repository_id, s.id, min(r.commit_id), max(r.commit_id), 1.0, 1.5, 1.5, 0.0001, 'worse'
    FROM series s
    JOIN benchmarks b ON b.id = s.benchmark_id
    JOIN results r ON r.series_id = s.id
    WHERE b.name = '${CHARTED}'
    GROUP BY b.repository_id, s.id
    ORDER BY s.id
    LIMIT 1`;
  execFileSync("psql", ["-q", "-v", "ON_ERROR_STOP=1", `${SERVER}/${DATABASE}`, "-c", sql]);
}

/** Returns a free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function pitotEnv(extra = {}) {
  return { ...process.env, DATABASE_URL: `${SERVER}/${DATABASE}`, ...extra };
}

/** Runs a pitot subcommand to completion and returns its standard output. */
function pitot(...args) {
  return execFileSync(PITOT, args, { env: pitotEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function waitForServer() {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/readyz`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`pitot serve did not become ready within 30 s; its log:\n${serverLog}`);
}

async function post(path, body, headers = {}) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await response.text();
  assert.ok(response.ok, `POST ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** Returns the django-asv fixture for `sha`, with SLOWED's value and interval times `factor`. */
function djangoResults(sha, factor) {
  const path = join(ROOT, "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json");
  const results = JSON.parse(readFileSync(path, "utf8"));
  results.commit_hash = sha;
  const row = results.results[SLOWED];
  // Columns 0 and 5 to 8: result, 99% interval, quartiles.
  for (const column of [0, 5, 6, 7, 8]) {
    row[column] = row[column].map((value) => value * factor);
  }
  return JSON.stringify(results);
}

/** Queues a job by webhook, claims and reports it as an agent, and waits for the report. */
async function reportJob() {
  const token = pitot("agent-token", "create", "browser-agent").trim();
  const payload = JSON.parse(readFileSync(join(ROOT, "tests/fixtures/webhooks/pull_request/labeled.payload.json"), "utf8"));
  payload.label.name = "run-benchmarks";

  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
  const queued = await post("/webhooks/github", body, {
    "x-github-event": "pull_request",
    "x-github-delivery": "browser-test-1",
    "x-hub-signature-256": signature,
  });

  const auth = { authorization: `Bearer ${token}` };
  await post("/api/agent/claim", JSON.stringify({ agent: "browser-agent", machine: "macos-12" }), auth);
  await post(`/api/agent/jobs/${queued.job_id}/report`, JSON.stringify({
    attempt: 1,
    base_sha: MERGE_BASE,
    head_sha: HEAD,
    machine: "macos-12",
    results: [
      { path: "macos-12/f95f852b-virtualenv-py3.10.json", content: djangoResults(MERGE_BASE, 1) },
      { path: "macos-12/ec26c3e5-virtualenv-py3.10.json", content: djangoResults(HEAD, 3) },
    ],
    log: "asv continuous f95f852b ec26c3e5\n",
    outcome: "completed",
  }), auth);

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const detail = await (await fetch(`${baseUrl}/api/v1/jobs/${queued.job_id}`)).json();
    if (detail.job.state === "reported") return queued.job_id;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`job ${queued.job_id} was not reported within 30 s; the server log:\n${serverLog}`);
}

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  psql(`CREATE DATABASE ${DATABASE}`);
  pitot("migrate");
  pitot("import", join(ROOT, "tests/fixtures/asv/example_results"));
  pitot("detect", EXAMPLE_REPO);
  seedChangePoint();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  // The test reports jobs itself and runs no agent, so a confirmation run
  // of the slowed benchmark would never be claimed and its comment never
  // written.
  const config = join(mkdtempSync(join(tmpdir(), "pitot-browser-")), "pitot.toml");
  writeFileSync(config, "[confirm]\nenabled = false\n");
  server = spawn(PITOT, ["serve"], {
    env: pitotEnv({
      PITOT_CONFIG: config,
      PITOT_LISTEN: `127.0.0.1:${port}`,
      PITOT_PUBLIC_URL: baseUrl,
      PITOT_WEBHOOK_SECRET: SECRET,
      PITOT_IN_PROCESS_AGENT: "false",
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (chunk) => { serverLog += chunk; });
  server.stderr.on("data", (chunk) => { serverLog += chunk; });
  await waitForServer();
  jobId = await reportJob();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  try {
    psql(`DROP DATABASE IF EXISTS ${DATABASE}`);
  } catch (error) {
    console.error(`failed to drop ${DATABASE}: ${error.message}`);
  }
});

/**
 * Opens a page at `path` with a 1280x800 viewport and collects its uncaught
 * errors and the Content Security Policy violations that Chromium reports
 * on the console.
 */
async function open(path) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) {
      errors.push(message.text());
    }
  });
  await page.goto(`${baseUrl}${path}`);
  return { page, errors };
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Returns how many pixels of the chart's canvas are drawn (not transparent). */
function drawnPixels(page) {
  return page.evaluate(() => {
    const canvas = document.querySelector("#history-chart canvas");
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let drawn = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn++;
    return drawn;
  });
}

test("repositories view lists both", async () => {
  const { page, errors } = await open("/");

  await page.getByRole("link", { name: EXAMPLE_REPO }).waitFor();

  assert.ok(await page.getByRole("link", { name: PR_REPO }).isVisible());
  await screenshot(page, "repositories");
  assert.deepEqual(errors, []);
  await page.close();
});

test("benchmark search finds a row", async () => {
  const { page, errors } = await open("/");
  await page.getByRole("link", { name: EXAMPLE_REPO }).click();
  await page.locator("details.group").first().waitFor();

  await page.getByRole("searchbox").fill("time_unit");
  const row = page.locator("tr", { has: page.getByRole("link", { name: CHARTED, exact: true }) });
  await row.waitFor();

  assert.match(await page.locator("#benchmark-count").innerText(), /match “time_unit”/);
  assert.equal(await row.locator("svg.sparkline polyline").count(), 1);
  assert.match(page.url(), /q=time_unit/, "the search is part of the deep link");
  await screenshot(page, "benchmarks");
  assert.deepEqual(errors, []);
  await page.close();
});

test("history chart draws and selects", async () => {
  const { page, errors } = await open(`/#/repos/local/example_results?q=${CHARTED}`);
  await page.getByRole("link", { name: CHARTED, exact: true }).click();
  await page.locator("#history-chart canvas").waitFor();

  assert.equal(await page.locator("h1").innerText(), CHARTED);
  assert.match(await page.locator("dl.facts").innerText(), /\d+ results, [1-9]\d* failed/, "the example history has failures");
  assert.ok((await drawnPixels(page)) > 500, "the chart has drawn lines and points");
  const over = page.locator("#history-chart .u-over");
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const tooltip = page.locator(".tooltip");
  await tooltip.waitFor({ state: "visible" });
  assert.match(await tooltip.innerText(), /[0-9a-f]{8}\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  await screenshot(page, "benchmark");

  await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const compareLink = page.getByRole("link", { name: "Compare with the previous result" });
  await compareLink.waitFor();
  await compareLink.click();
  await page.locator("table.comparison").waitFor();

  assert.match(await page.locator(".comparison-summary").innerText(), /worse.*better.*of \d+/);
  await screenshot(page, "compare");
  assert.deepEqual(errors, []);
  await page.close();
});

test("deep link opens a series", async () => {
  const overview = await (await fetch(`${baseUrl}/api/v1/repositories/local/example_results/benchmarks`)).json();
  const series = overview.series.find((candidate) => candidate.params.length > 0);
  const path = `/#/repos/local/example_results/benchmarks/${encodeURIComponent(series.benchmark)}?series=${series.id}`;

  const { page, errors } = await open(path);
  await page.locator("#history-chart canvas").waitFor();

  assert.equal(await page.locator("h1").innerText(), series.benchmark);
  const chosen = await page.getByLabel("Parameters").inputValue();
  assert.equal(chosen, String(series.id));
  assert.deepEqual(errors, []);
  await page.close();
});

test("run list and run page", async () => {
  const { page, errors } = await open("/#/repos/Codertocat/Hello-World/runs");
  const row = page.locator(`tr[data-job="${jobId}"]`);
  await row.waitFor();

  assert.equal(await row.locator(".state").innerText(), "reported");
  await screenshot(page, "runs");
  await row.getByRole("link", { name: `#${jobId}` }).click();
  const slowed = page.locator("tr.change-worse", { hasText: SLOWED });
  await slowed.waitFor();
  const chart = page.locator("img.summary-chart");
  await chart.waitFor();
  await page.waitForFunction(() => document.querySelector("img.summary-chart").naturalWidth > 0);

  assert.match(await slowed.innerText(), /worse/);
  assert.ok(await page.getByRole("link", { name: "Agent log" }).isVisible());
  assert.equal(await page.locator("ul.downloads a[download]").count(), 2);
  await screenshot(page, "run");

  await slowed.getByRole("link", { name: SLOWED }).click();
  await page.locator("#history-chart canvas").waitFor();

  assert.equal(await page.locator("h1").innerText(), SLOWED);
  assert.match(await page.locator("dl.facts").innerText(), /2 results, 0 failed/, "base and head were stored");
  assert.deepEqual(errors, []);
  await page.close();
});

test("unknown repository shows an error", async () => {
  const { page } = await open("/#/repos/nobody/nothing");

  const alert = page.getByRole("alert");
  await alert.waitFor();

  assert.match(await alert.innerText(), /repository nobody\/nothing not found/);
  await page.close();
});

test("malformed deep link shows an error", async () => {
  const { page } = await open("/#/repos/a/%E0%A4%A");

  const alert = page.getByRole("alert");
  await alert.waitFor();

  assert.match(await alert.innerText(), /URI/);
  await page.close();
});

test("compare form keeps the environment", async () => {
  const query = new URLSearchParams({ machine: "cheetah", environment: "py2.7-numpy1.8", base: "22b920c6", head: "fcf8c079" });
  const { page } = await open(`/#/repos/${EXAMPLE_REPO}/compare?${query}`);
  await page.locator("table.comparison").waitFor();

  await page.getByRole("button", { name: "Compare" }).click();
  await page.locator("table.comparison").waitFor();

  assert.equal(await page.locator("#compare-environment").inputValue(), "py2.7-numpy1.8");
  assert.match(page.url(), /environment=py2\.7-numpy1\.8/);
  await page.close();
});

test("quarantine set and lifted from the benchmark page", async () => {
  const token = pitot("api-token", "create", "browser-maintainer", "--scope", "quarantine").trim();
  const benchmarkPath = `/#/repos/local/example_results/benchmarks/${encodeURIComponent(CHARTED)}`;
  const { page, errors } = await open(benchmarkPath);
  await page.locator("#quarantine form").waitFor();

  // The first write prompts for the token; the lift reuses it from sessionStorage.
  page.once("dialog", (dialog) => dialog.accept(token));
  await page.getByLabel("Quarantine kind").selectOption("noisy");
  await page.getByLabel("Reason").fill("jitter on the test runner");
  await page.getByRole("button", { name: "Quarantine", exact: true }).click();
  const badge = page.locator("h1 .badge");
  await badge.waitFor();

  assert.equal(await badge.innerText(), "quarantined (noisy)");
  assert.match(await page.locator("#quarantine").innerText(), /as noisy by browser-maintainer: jitter on the test runner/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("pitot.apiToken")), token);
  const list = await open(`/#/repos/local/example_results?q=${CHARTED}`);
  const row = list.page.locator("tr", { has: list.page.getByRole("link", { name: CHARTED, exact: true }) });
  await row.first().waitFor();
  assert.equal(await row.first().locator(".badge").innerText(), "quarantined (noisy)");
  await screenshot(page, "quarantine");
  await list.page.close();

  await page.getByRole("button", { name: "Lift quarantine" }).click();
  await badge.waitFor({ state: "detached" });

  const history = await (await fetch(`${baseUrl}/api/v1/repositories/local/example_results/quarantines?all=true`)).json();
  assert.equal(history.quarantines.length, 1);
  assert.equal(history.quarantines[0].benchmark, CHARTED);
  assert.equal(history.quarantines[0].lifted_by, "browser-maintainer");
  assert.equal(await page.locator("h1").innerText(), CHARTED);
  assert.deepEqual(errors, []);
  await page.close();
});

test("run page marks a quarantined benchmark", async () => {
  const token = pitot("api-token", "create", "browser-run-maintainer", "--scope", "quarantine").trim();
  const response = await fetch(`${baseUrl}/api/v1/repositories/${PR_REPO}/quarantines/${encodeURIComponent(SLOWED)}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ kind: "ignored", reason: "form cleaning is I/O bound" }),
  });
  assert.equal(response.status, 200, await response.text());

  const { page, errors } = await open(`/#/runs/${jobId}`);
  const slowed = page.locator("tr.change-worse", { hasText: SLOWED });
  await slowed.waitFor();

  assert.equal(await slowed.locator(".badge").innerText(), "quarantined (ignored)");
  assert.match(await slowed.locator(".badge").getAttribute("title"), /by browser-run-maintainer: form cleaning is I\/O bound/);
  assert.deepEqual(errors, []);
  await page.close();

  // The compare view of the same two commits marks it too.
  const { job } = await (await fetch(`${baseUrl}/api/v1/jobs/${jobId}`)).json();
  const query = new URLSearchParams({ machine: job.machine, base: job.base_sha, head: job.head_sha });
  const compare = await open(`/#/repos/${PR_REPO}/compare?${query}`);
  const compared = compare.page.locator("tr.change-worse", { hasText: SLOWED });
  await compared.waitFor();

  assert.equal(await compared.locator(".badge").innerText(), "quarantined (ignored)");
  assert.deepEqual(compare.errors, []);
  await compare.page.close();
});

test("regressions view sets a triage state", async () => {
  const token = pitot("api-token", "create", "browser-triager", "--scope", "triage").trim();
  const { page, errors } = await open("/#/repos/local/example_results");
  await page.getByRole("link", { name: "Regressions" }).click();
  const row = page.locator("tr", { hasText: CHARTED }).first();
  await row.waitFor();
  const prompts = [];
  page.on("dialog", (dialog) => {
    prompts.push(dialog.message());
    dialog.accept(prompts.length === 1 ? token : "checked in the browser test");
  });

  await row.getByRole("combobox").selectOption("acknowledged");
  await page.getByRole("status").filter({ hasText: "acknowledged" }).waitFor();

  assert.match(prompts[0], /API token/);
  const stored = await (await fetch(`${baseUrl}/api/v1/repositories/local/example_results/regressions?state=acknowledged`)).json();
  const triaged = stored.regressions.find((regression) => regression.benchmark === CHARTED);
  assert.ok(triaged, JSON.stringify(stored));
  assert.equal(triaged.state_changed_by, "browser-triager");
  assert.equal(triaged.note, "checked in the browser test");
  assert.match(await row.innerText(), /browser-triager/);
  await screenshot(page, "regressions");
  assert.deepEqual(errors, []);
  await page.close();
});
