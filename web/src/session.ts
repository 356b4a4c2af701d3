// Who is signed in. Loaded once at start from GET /api/v1/auth/status
// (the cookie is HttpOnly: asking the relay is the only way to know). That
// route answers 200 signed in or not: a 401 would show as a console error
// on every signed-out page load.
import { ApiError, get, post, setCsrf, type User } from "./api";

export interface SessionInfo {
  user: User;
  csrf_token: string;
}

let current: User | null = null;
let loaded = false;

export function currentUser(): User | null {
  return current;
}

// Asks the relay whether the cookie is a valid session; remembers the
// user and the CSRF token. Null when signed out.
export async function loadSession(): Promise<User | null> {
  try {
    const s = await get<{ signed_in: boolean } & Partial<SessionInfo>>("/api/v1/auth/status");
    current = s.signed_in && s.user ? s.user : null;
    setCsrf(current ? (s.csrf_token ?? null) : null);
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e;
    current = null;
    setCsrf(null);
  }
  loaded = true;
  return current;
}

export function sessionLoaded(): boolean {
  return loaded;
}

// After sign-in, sign-up or a one-time link: the relay's answer.
export function setSession(s: SessionInfo): void {
  current = s.user;
  setCsrf(s.csrf_token);
  loaded = true;
}

export async function signOut(): Promise<void> {
  try {
    await post("/api/v1/auth/logout");
  } finally {
    current = null;
    setCsrf(null);
  }
}

// Forgets the signed-in user without asking the relay (the session is
// already gone: revoked, password reset, account deleted).
export function clearSession(): void {
  current = null;
  setCsrf(null);
  loaded = true;
}

// After a profile change: the relay's new user object.
export function updateUser(user: User): void {
  current = user;
}
