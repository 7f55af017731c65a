// The REST client: JSON in and out, the CSRF header on unsafe requests, errors thrown as ApiError.

let csrfToken = "";

/** An API answer in the error shape {"error": {"code", "message", "field"}}, or a network failure. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || "");
    this.status = status;
    this.code = error.code || "error";
    this.field = error.field || null;
    this.error = error;
  }
}

/** Remember the token the session gave us; unsafe requests must echo it. */
export function setCsrf(token) {
  csrfToken = token || "";
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: "network" });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || { code: "http_error" });
  }
  return data;
}

export const api = {
  get: (path, query) => request("GET", query ? `${path}?${query}` : path),
  post: (path, body) => request("POST", path, body),
  patch: (path, body) => request("PATCH", path, body),
  delete: (path) => request("DELETE", path),
};
