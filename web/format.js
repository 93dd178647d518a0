// Building elements and formatting values for people.

/**
 * Creates an element with attributes and children. Strings become text
 * nodes, so names from the API are never parsed as HTML.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const TIME_UNITS = [
  [1e-9, "ns"],
  [1e-6, "μs"],
  [1e-3, "ms"],
  [1, "s"],
];

const SIZE_UNITS = [
  [1, "B"],
  [1e3, "kB"],
  [1e6, "MB"],
  [1e9, "GB"],
];

/** Formats a value in the benchmark's unit: seconds and bytes scaled, others as numbers. */
export function formatValue(value, unit) {
  if (value === null || value === undefined) return "";
  if (!Number.isFinite(value)) return String(value);
  if (unit === "seconds") return scaled(value, TIME_UNITS);
  if (unit === "bytes") return scaled(value, SIZE_UNITS);
  const text = Math.abs(value) >= 1e5 || (value !== 0 && Math.abs(value) < 1e-3)
    ? value.toExponential(3)
    : String(Number(value.toPrecision(4)));
  return unit && unit !== "unit" ? `${text} ${unit}` : text;
}

function scaled(value, units) {
  let chosen = units[0];
  for (const unit of units) {
    if (Math.abs(value) >= unit[0]) chosen = unit;
  }
  return `${Number((value / chosen[0]).toPrecision(3))} ${chosen[1]}`;
}

/** Formats a ratio as a signed percentage change: 1.25 becomes +25.0%. */
export function formatChange(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "";
  const percent = (ratio - 1) * 100;
  return `${percent >= 0 ? "+" : ""}${percent.toFixed(1)}%`;
}

/** Returns the CSS class of a change: `worse`, `better` or none. */
export function changeClass(ratio, threshold = 0.1) {
  if (ratio === null || ratio === undefined) return "";
  if (ratio > 1 + threshold) return "worse";
  if (ratio < 1 / (1 + threshold)) return "better";
  return "";
}

/** Formats a date (RFC 3339 text or epoch milliseconds) as YYYY-MM-DD HH:MM in UTC. */
export function formatDate(date) {
  if (date === null || date === undefined) return "";
  const parsed = new Date(date);
  if (Number.isNaN(parsed.getTime())) return "";
  return parsed.toISOString().slice(0, 16).replace("T", " ");
}

/** Returns the first 8 characters of a commit sha, as asv shows it. */
export function shortSha(sha) {
  return sha ? sha.slice(0, 8) : "";
}

/** Returns a commit's web page from the repository's template, or null. */
export function commitUrl(template, sha) {
  return template ? template.replace("{sha}", sha) : null;
}

/** Draws a sparkline of values (null for a failure) as an SVG polyline. */
export function sparkline(values, width = 120, height = 24) {
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const numbers = values.filter((value) => value !== null && Number.isFinite(value));
  svg.setAttribute("aria-label", `${numbers.length} recent values`);
  if (numbers.length === 0) return svg;

  const low = Math.min(...numbers);
  const high = Math.max(...numbers);
  const span = high - low || 1;
  const step = values.length > 1 ? (width - 4) / (values.length - 1) : 0;
  const y = (value) => height - 3 - ((value - low) / span) * (height - 6);
  const points = [];
  values.forEach((value, index) => {
    const x = 2 + index * step;
    if (value === null || !Number.isFinite(value)) {
      svg.append(failureTick(x, height));
    } else {
      points.push(`${x.toFixed(1)},${y(value).toFixed(1)}`);
    }
  });

  const line = document.createElementNS(svgNs, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#0969da");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}

/** Returns the red tick on the baseline that marks a failed or skipped result. */
function failureTick(x, height) {
  const tick = document.createElementNS("http://www.w3.org/2000/svg", "line");
  tick.setAttribute("x1", x);
  tick.setAttribute("x2", x);
  tick.setAttribute("y1", height - 6);
  tick.setAttribute("y2", height);
  tick.setAttribute("stroke", "#cf222e");
  return tick;
}
