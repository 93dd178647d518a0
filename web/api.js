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
 * given, a JSON body, and returns the response's JSON.
 */
export async function sendJson(method, path, token, body) {
  const headers = { accept: "application/json", authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(new URL(`/api/v1${path}`, window.location.origin), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
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
