// The REST API: JSON in and out, the CSRF token on every state-changing request.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") {
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "the server cannot be reached");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    data = { error: text.slice(0, 200) };
  }
  if (!response.ok) {
    const message = (data && data.error) || `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

export const api = {
  session: () => call("GET", "/api/session"),
  login: (username, password) => call("POST", "/api/login", { username, password }),
  logout: () => call("POST", "/api/logout", {}),
  pairs: () => call("GET", "/api/pairs"),
  detail: (pair) => call("GET", `/api/positions/${encodeURIComponent(pair)}`),
  placeEntry: (pair, price, size) => call("POST", "/api/entries", { pair, price, size }),
  cancel: (id) => call("POST", `/api/orders/${encodeURIComponent(id)}/cancel`, {}),
  forceExit: (pair, reason) =>
    call("POST", `/api/positions/${encodeURIComponent(pair)}/force-exit`, { reason }),
  liquidate: (reason) => call("POST", "/api/liquidate", { confirm: "LIQUIDATE", reason }),
};
