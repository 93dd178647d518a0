// Deep links: reading and building the URL fragment, and the breadcrumbs.

import { h } from "./format.js";

/** Returns the fragment's path and query, such as `/repos/a/b` and its parameters. */
export function currentRoute() {
  const fragment = window.location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = fragment.split("?", 2);
  return { path, query: new URLSearchParams(search) };
}

/** Builds a fragment link from path parts (encoded here) and query parameters. */
export function link(parts, query = {}) {
  const path = parts.map((part) => encodeURIComponent(part)).join("/");
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return `#/${path}${text ? `?${text}` : ""}`;
}

/** Replaces the query of the current fragment without adding a history entry or re-rendering. */
export function replaceQuery(query) {
  const { path } = currentRoute();
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  history.replaceState(null, "", `#${path}${text ? `?${text}` : ""}`);
}

/** Shows the breadcrumbs: a list of [label, href] pairs, the last one without a link. */
export function setCrumbs(crumbs) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  crumbs.forEach(([label, href], index) => {
    if (index > 0) nav.append(h("span", { class: "sep" }, "/"));
    nav.append(href ? h("a", { href }, label) : h("span", {}, label));
  });
}
