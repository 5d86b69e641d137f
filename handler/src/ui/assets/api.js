// The monitoring API: every call carries the token as a bearer header, never in the URL.

import { session, token } from "./session.js";

export class ApiError extends Error {
  constructor(status, code, text) {
    super(text);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, options = {}) {
    let res;
  try {
    res = await fetch(path, {
      method: options.method || "GET",
      headers: { Authorization: `Bearer ${token() || ""}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "unreachable", "The service could not be reached.");
  }
  let body = null;
  try { body = await res.json(); } catch { /* an empty or non-JSON answer */ }
  if (!res.ok) {
    const err = new ApiError(res.status, body?.error || `http_${res.status}`,
      body?.message || res.statusText || `HTTP ${res.status}`);
    if (res.status === 401 && !options.signingIn) {
      session.signOut(`Your token is no longer accepted (${err.code}): ${err.message}`);
    }
    throw err;
  }
  return { body, res };
}

// The `rel="next"` target of a Link header, resolved against the URL that was called.
export function nextLink(res, called) {
  const header = res.headers.get("Link");
  const match = header && /<([^>]*)>\s*;\s*rel="?next"?/.exec(header);
  if (!match) return null;
  const url = new URL(match[1], new URL(called, location.href));
  return url.origin === location.origin ? url.pathname + url.search : null;
}

export const enc = encodeURIComponent;

export async function loadAgents(signingIn = false) {
  const { body } = await api("/api/v1/agents", { signingIn });
  session.agents = Array.isArray(body) ? body : [];
  session.workspace = session.agents[0]?.workspace_id || null;
}
