// The relay's HTTP API, as the web app calls it.
//
// The web app signs in with an HttpOnly cookie (it never sees the session
// token); every state-changing request carries the CSRF token the relay
// handed out at sign-in (GET /api/v1/auth/session returns it again after a
// reload). API clients outside the browser use bearer tokens instead.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public retryAfter?: number,
  ) {
    super(message);
  }
}

export interface User {
  id: string;
  email: string;
  display_name?: string | null;
  created_at?: string;
  email_verified?: boolean; // the address was proven by its mailed link
}

let csrfToken: string | null = null;

export function setCsrf(token: string | null): void {
  csrfToken = token;
}

// The CSRF token, for a request made outside api() (a streamed reply).
export function csrf(): string | null {
  return csrfToken;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// One request. Resolves with the parsed JSON body (undefined for 204);
// rejects with ApiError carrying the relay's {"error":{code,message}}.
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { "X-Clawlink-Client": "web" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The relay cannot be reached. Check your connection.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, "bad_response", `Unexpected answer from the relay (${res.status}).`);
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const ra = res.headers.get("Retry-After");
    throw new ApiError(
      res.status,
      err?.code ?? "http_" + res.status,
      err?.message ?? `Request failed (${res.status}).`,
      ra ? Number(ra) : undefined,
    );
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => api<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

// ws:// or wss:// URL of a relay WebSocket path on this origin.
export function wsUrl(path: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}
