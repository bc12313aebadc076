// The service's REST API, with the party's bearer token: the dashboard has no other way in.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  constructor(token, base = "") {
    this.token = token;
    this.base = base;
  }

  async request(method, path, body, as = "json") {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        const data = await response.json();
        if (data && data.error && data.error.message) message = data.error.message;
      } catch {
        // not JSON: keep the status
      }
      throw new ApiError(response.status, message);
    }
    if (response.status === 204) return null;
    return as === "blob" ? response.blob() : response.json();
  }

  /** A non-JSON resource (a printable report) as a Blob, fetched with the token. */
  getBlob(path) {
    return this.request("GET", path, undefined, "blob");
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  /** The live WebSocket (alerts, and the disclosed traffic every cycle). */
  socketUrl() {
    const url = new URL("/v1/ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    url.searchParams.set("traffic", "true");
    return url.toString();
  }
}
