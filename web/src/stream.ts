// One request whose answer is a stream of server-sent events, as the
// prompt box (pages/device.ts) and the chat view (chat/api.ts) make it
// (fetch: EventSource cannot POST or send headers): the app's headers,
// the CSRF token on anything but GET (asked again once after
// csrf_failed: signed in again elsewhere), a refusal read as JSON into an
// ApiError. Resolves with the open body for readSse (chat/sse.ts).
import { ApiError, csrf } from "./api";
import { loadSession } from "./session";

async function csrfToken(refresh: boolean): Promise<string | null> {
  if (refresh || !csrf()) await loadSession().catch(() => null);
  return csrf();
}

export async function openEventStream(
  method: string,
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<ReadableStream<Uint8Array>> {
  let res: Response | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers: Record<string, string> = { "X-Clawlink-Client": "web", Accept: "text/event-stream" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") {
      const t = await csrfToken(attempt > 0);
      if (t) headers["X-CSRF-Token"] = t;
    }
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch {
      if (signal.aborted) throw new ApiError(0, "aborted", "Stopped.");
      throw new ApiError(0, "network", "The relay cannot be reached. Check your connection.");
    }
    if (res.status !== 403 || attempt > 0 || method === "GET") break;
    const j = await res.clone().json().catch(() => null);
    if (j?.error?.code !== "csrf_failed") break;
  }
  res = res!;
  const type = res.headers.get("Content-Type") ?? "";
  if (!res.ok || !type.startsWith("text/event-stream") || !res.body) {
    const j = await res.json().catch(() => null);
    const err = j?.error as { code?: string; message?: string } | undefined;
    throw new ApiError(res.status, err?.code ?? "http_" + res.status, err?.message ?? `Request failed (${res.status}).`);
  }
  return res.body;
}
