// Fetching from pitot's JSON API. The dashboard reads nothing else.

/** An API error with the server's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Fetches `path` under /api/v1 with `query` parameters and returns its JSON. */
export async function getJson(path, query = {}) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.set(name, value);
    }
  }
  return responseJson(await fetch(url, { headers: { accept: "application/json" } }));
}

/**
 * Sends `method` to `path` under /api/v1 with an API token and, when
 * given, a JSON body, and returns the response's JSON. A token the server
 * rejects with 401 is forgotten, so the next write prompts for another.
 */
export async function sendJson(method, path, token, body) {
  const headers = { accept: "application/json", authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(new URL(`/api/v1${path}`, window.location.origin), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) forgetToken();
  return responseJson(response);
}

/** Returns a response's JSON, or throws an ApiError with the server's message. */
async function responseJson(response) {
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body.error) message = body.error;
    } catch {
      // Not a JSON error body: keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  return response.json();
}

/** Returns the API path of a repository, with both parts encoded. */
export function repositoryPath(repository) {
  const [owner, name] = repository.split("/");
  return `/repositories/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/** The sessionStorage key of the API token the user typed for writes. */
const TOKEN_KEY = "pitot.apiToken";

/** Returns the API token kept for this browser tab, or null. */
export function storedToken() {
  return window.sessionStorage.getItem(TOKEN_KEY);
}

/** Forgets the kept API token, for example after the server rejected it. */
export function forgetToken() {
  window.sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Returns the holder of a working API token: the kept one, or one the user
 * types, checked with GET /api/v1/token and then kept for this tab.
 * Returns null when the user cancels.
 */
export async function askForToken() {
  let token = storedToken();
  if (!token) {
    token = window.prompt("API token with the triage scope (from `pitot api-token create NAME --scope triage`):");
    if (!token) return null;
    token = token.trim();
  }
  const response = await fetch("/api/v1/token", { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) {
    forgetToken();
    throw new ApiError(response.status, (await errorMessage(response)));
  }
  window.sessionStorage.setItem(TOKEN_KEY, token);
  return { token, ...(await response.json()) };
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body.error) return body.error;
  } catch {
    // Not a JSON error body: use the status line.
  }
  return `${response.status} ${response.statusText}`;
}
