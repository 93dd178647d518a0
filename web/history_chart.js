// The interactive history chart of one series, drawn with uPlot on a
// canvas so that tens of thousands of points stay fast.
//
// Drag to zoom into a date range, Shift+drag to pan, the mouse wheel
// zooms around the pointer and a double click shows everything again.
// Hovering shows a point's commit, date, value and 99% interval; a click
// selects the point and opens its commit when the repository is on GitHub.
// Failed and skipped results are drawn as large red and grey dots at the
// height of the value before them, so they are never just a gap. Vertical
// lines mark the series' change points and the repository's releases.

import uPlot from "./vendor/uPlot.esm.js";
import { h, formatValue, formatDate, shortSha, commitUrl } from "./format.js";

const BLUE = "#0969da";
const RED = "#cf222e";
const GREY = "#8c959f";
const GREEN = "#1a7f37";

/** Turns the API's point columns into uPlot's data arrays; points without a date are left out. */
export function chartData(points) {
  // A failure before the first value is drawn at the first value's height.
  let carried = points.value.find((value) => value !== null) ?? 0;
  const index = [];
  const columns = [[], [], [], [], [], []];
  for (let i = 0; i < points.commit.length; i++) {
    if (points.committed_at[i] === null) continue;
    const state = points.state[i];
    const value = points.value[i];
    if (value !== null) carried = value;
    index.push(i);
    columns[0].push(points.committed_at[i] / 1000);
    columns[1].push(value);
    columns[2].push(points.ci_99_low[i]);
    columns[3].push(points.ci_99_high[i]);
    columns[4].push(state === "failed" ? carried : null);
    columns[5].push(state === "skipped" ? carried : null);
  }
  return { data: columns, index };
}

/** Draws the chart into `container` and returns a function that removes it. */
export function drawHistoryChart(container, history, onSelect) {
  const { series: info, points } = history;
  const { data, index } = chartData(points);
  const tooltip = h("div", { class: "tooltip", hidden: true, role: "tooltip" });
  const plotBox = h("div", { class: "history-plot" });
  container.replaceChildren(plotBox, tooltip);

  const marker = (color) => ({
    show: true,
    size: 9,
    stroke: color,
    fill: color,
    width: 2,
  });
  const options = {
    width: Math.max(320, container.clientWidth - 16),
    height: 380,
    cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 7 } },
    scales: { x: { time: true } },
    legend: { show: false },
    series: [
      {},
      { label: "value", stroke: BLUE, width: 1.5, spanGaps: true, points: { show: data[0].length < 400, size: 4 } },
      { label: "99% low", stroke: "transparent", points: { show: false } },
      { label: "99% high", stroke: "transparent", points: { show: false } },
      { label: "failed", stroke: RED, width: 0, paths: () => null, points: marker(RED) },
      { label: "skipped", stroke: GREY, width: 0, paths: () => null, points: marker(GREY) },
    ],
    bands: [{ series: [3, 2], fill: "rgba(9, 105, 218, 0.15)" }],
    axes: [
      {},
      { size: 80, values: (_, ticks) => ticks.map((tick) => formatValue(tick, info.unit)) },
    ],
    hooks: {
      setCursor: [(plot) => showTooltip(plot, tooltip, history, index)],
      ready: [(plot) => addPanAndWheel(plot, tooltip)],
      draw: [(plot) => drawMarkers(plot, markers(history))],
    },
  };
  const plot = new uPlot(options, data, plotBox);
  plot.root.querySelector("canvas").setAttribute("aria-label", `History of ${info.name}`);

  // A click that did not drag selects the point under the pointer.
  let downAt = null;
  plot.over.addEventListener("mousedown", (event) => { downAt = [event.clientX, event.clientY]; });
  plot.over.addEventListener("click", (event) => {
    const moved = downAt && Math.hypot(event.clientX - downAt[0], event.clientY - downAt[1]) > 3;
    const row = plot.cursor.idx;
    if (moved || row === null || row === undefined) return;
    const point = index[row];
    onSelect(point);
    const url = commitUrl(history.commit_url, points.commit[point]);
    if (url) window.open(url, "_blank", "noopener");
  });

  const resize = () => plot.setSize({ width: Math.max(320, container.clientWidth - 16), height: 380 });
  window.addEventListener("resize", resize);
  return () => {
    window.removeEventListener("resize", resize);
    plot.destroy();
  };
}

/**
 * Returns the vertical markers of the chart: one at the first commit after
 * each change point (red when the benchmark got worse, green when better)
 * and one dashed grey line with the tag at each release's commit. A commit
 * without a date in this series gets no marker.
 */
export function markers(history) {
  const { points } = history;
  const dateOf = new Map();
  points.commit.forEach((sha, i) => {
    if (points.committed_at[i] !== null) dateOf.set(sha, points.committed_at[i] / 1000);
  });
  const found = [];
  for (const change of history.change_points ?? []) {
    const x = dateOf.get(change.after_commit);
    if (x === undefined) continue;
    const color = change.direction === "worse" ? RED : GREEN;
    found.push({ x, color, dashed: false, label: change.ratio === null ? "" : `×${change.ratio.toFixed(2)}` });
  }
  for (const release of history.releases ?? []) {
    const x = dateOf.get(release.commit);
    if (x !== undefined) found.push({ x, color: GREY, dashed: true, label: release.tag });
  }
  return found;
}

function drawMarkers(plot, found) {
  const { ctx, bbox } = plot;
  const ratio = window.devicePixelRatio || 1;
  ctx.save();
  ctx.lineWidth = 1.5 * ratio;
  ctx.font = `${11 * ratio}px system-ui, sans-serif`;
  for (const marker of found) {
    const x = Math.round(plot.valToPos(marker.x, "x", true));
    if (x < bbox.left || x > bbox.left + bbox.width) continue;
    ctx.strokeStyle = marker.color;
    ctx.fillStyle = marker.color;
    ctx.setLineDash(marker.dashed ? [4 * ratio, 4 * ratio] : []);
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    if (marker.label) ctx.fillText(marker.label, x + 3 * ratio, bbox.top + 12 * ratio);
  }
  ctx.restore();
}

function showTooltip(plot, tooltip, history, index) {
  const row = plot.cursor.idx;
  if (row === null || row === undefined) {
    tooltip.hidden = true;
    return;
  }
  const point = index[row];
  const { points, series } = history;
  const state = points.state[point];
  const low = points.ci_99_low[point];
  const high = points.ci_99_high[point];
  const lines = [
    h("div", {}, h("code", {}, shortSha(points.commit[point])), "  ", formatDate(points.committed_at[point]), " UTC"),
    state === "value"
      ? h("div", {}, h("strong", {}, formatValue(points.value[point], series.unit)))
      : h("div", { class: state === "failed" ? "failed" : "muted" }, state === "failed" ? "failed" : "skipped"),
  ];
  if (low !== null && high !== null) {
    lines.push(h("div", { class: "muted" }, `99% interval ${formatValue(low, series.unit)} – ${formatValue(high, series.unit)}`));
  }
  tooltip.replaceChildren(...lines);
  tooltip.hidden = false;
  const left = plot.cursor.left + plot.over.offsetLeft + 14;
  const top = plot.cursor.top + plot.over.offsetTop + 14;
  tooltip.style.left = `${Math.min(left, plot.over.offsetLeft + plot.over.clientWidth - 200)}px`;
  tooltip.style.top = `${top}px`;
}

/** Adds Shift+drag panning and mouse wheel zoom on the x axis. */
function addPanAndWheel(plot, tooltip) {
  const over = plot.over;
  over.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  over.addEventListener("mousedown", (event) => {
    if (!event.shiftKey) return;
    event.preventDefault();
    event.stopPropagation();
    const startX = event.clientX;
    const { min, max } = plot.scales.x;
    const perPixel = (max - min) / over.clientWidth;
    const move = (moveEvent) => {
      const shift = (startX - moveEvent.clientX) * perPixel;
      plot.setScale("x", { min: min + shift, max: max + shift });
    };
    const up = () => {
      document.removeEventListener("mousemove", move);
      document.removeEventListener("mouseup", up);
    };
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up);
  }, true);
  over.addEventListener("wheel", (event) => {
    event.preventDefault();
    const { min, max } = plot.scales.x;
    const at = plot.posToVal(event.offsetX, "x");
    const factor = event.deltaY < 0 ? 0.8 : 1.25;
    plot.setScale("x", { min: at - (at - min) * factor, max: at + (max - at) * factor });
  }, { passive: false });
}
