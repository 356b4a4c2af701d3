// The pure parts of the files panel and attachments (docs/chat.md,
// "Files"): base64 of bytes both ways, how a file is cut into upload
// chunks, paths and their breadcrumb, sizes in words, a listing's order
// and a name fit to be written. No DOM: web/test/files.test.mjs runs them
// in node.

// The agent's limits (docs/chat.md, "Files"): an upload chunk's decoded
// bytes (CL_FILES_UPLOAD_CHUNK: its base64 in a JSON body stays within the
// relay's 64 KiB body limit) and a whole upload (CL_FILES_UPLOAD_MAX).
export const UPLOAD_CHUNK = 40 * 1024;
export const UPLOAD_MAX = 64 * 1024 * 1024;
// What the browser holds of one download before it is saved (the chunks
// are joined in memory): past this, say so rather than exhaust the tab.
export const DOWNLOAD_MAX = 1024 * 1024 * 1024;

// ---- base64 ------------------------------------------------------------------

// Bytes as base64. btoa() takes a "binary string"; it is built a slice at a
// time (String.fromCharCode with a huge argument list overflows the stack).
export function bytesToBase64(bytes: Uint8Array): string {
  const SLICE = 0x8000;
  let bin = "";
  for (let i = 0; i < bytes.length; i += SLICE) bin += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + SLICE)));
  return btoa(bin);
}

// base64 (standard alphabet, padded or not, no whitespace) as bytes; null
// for anything else, so a bad chunk from the agent is an error, not garbage.
export function base64ToBytes(s: string): Uint8Array | null {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const bare = s.replace(/=+$/, "");
  if (bare.length % 4 === 1) return null;
  if (s.length !== bare.length && s.length % 4 !== 0) return null; // padding only to a whole quad
  let bin: string;
  try {
    bin = atob(bare + "===".slice(0, (4 - (bare.length % 4)) % 4));
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- chunks ------------------------------------------------------------------

export interface Chunk {
  offset: number;
  length: number;
  final: boolean;
}

// The pieces a file of `size` bytes is uploaded in, at most `max` bytes
// each, in order; the last says final. An empty file is one empty, final
// piece (the file is still written).
export function chunkPlan(size: number, max: number): Chunk[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError("size");
  if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError("max");
  const out: Chunk[] = [];
  for (let off = 0; off < size; off += max) out.push({ offset: off, length: Math.min(max, size - off), final: off + max >= size });
  if (!out.length) out.push({ offset: 0, length: 0, final: true });
  return out;
}

// ---- sizes -------------------------------------------------------------------

// 0 B, 1023 B, 1.0 KiB, 48.0 KiB, 1.5 MiB, 2.0 GiB.
export function fmtSize(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "?";
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.96 KiB would round to "1024.0 KiB": say 1.0 MiB instead
  if (v.toFixed(1) === "1024.0" && u < units.length - 1) {
    v = 1;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

// "12 %" of a transfer (0 bytes of 0 is done).
export function fmtPercent(done: number, total: number): string {
  if (total <= 0) return "100 %";
  return `${Math.min(100, Math.floor((done / total) * 100))} %`;
}

// ---- paths ---------------------------------------------------------------------

// An absolute path with no empty, "." or ".." segments and no trailing
// slash ("/" stays "/"). What is not absolute is taken from "/".
export function normalizePath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (!seg || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

export function joinPath(dir: string, name: string): string {
  return normalizePath(`${dir}/${name}`);
}

export function parentPath(p: string): string {
  const n = normalizePath(p);
  const i = n.lastIndexOf("/");
  return i <= 0 ? "/" : n.slice(0, i);
}

export function baseName(p: string): string {
  const n = normalizePath(p);
  return n === "/" ? "/" : n.slice(n.lastIndexOf("/") + 1);
}

// Whether p is root or under it (as paths: /home/ann2 is not in /home/ann).
export function isInside(p: string, root: string): boolean {
  const a = normalizePath(p);
  const r = normalizePath(root);
  return r === "/" || a === r || a.startsWith(r + "/");
}

// A path as a person reads it: ~ for the home directory and under it.
export function displayPath(p: string, home: string | null): string {
  const n = normalizePath(p);
  if (home && isInside(n, home) && normalizePath(home) !== "/") {
    const h = normalizePath(home);
    return n === h ? "~" : "~" + n.slice(h.length);
  }
  return n;
}

// "~/x/y" or "~" with the home directory put in; other paths normalised.
export function expandHome(p: string, home: string): string {
  const t = p.trim();
  if (t === "~") return normalizePath(home);
  if (t.startsWith("~/")) return joinPath(home, t.slice(2));
  return normalizePath(t);
}

export interface Crumb {
  label: string;
  path: string;
}

// The breadcrumb of a path: from ~ when it is in the home directory, else
// from /; each crumb opens its directory.
export function breadcrumbs(p: string, home: string | null): Crumb[] {
  const n = normalizePath(p);
  let start = "/";
  const out: Crumb[] = [];
  if (home && normalizePath(home) !== "/" && isInside(n, home)) {
    start = normalizePath(home);
    out.push({ label: "~", path: start });
  } else {
    out.push({ label: "/", path: "/" });
  }
  const rest = n.slice(start.length).split("/").filter(Boolean);
  let cur = start;
  for (const seg of rest) {
    cur = joinPath(cur, seg);
    out.push({ label: seg, path: cur });
  }
  return out;
}

// ---- listings and names ---------------------------------------------------------

export interface EntryLike {
  name: string;
  type: string;
}

// Directories first, then the rest, each by name as a person sorts them
// (case-insensitive, numbers by value), the name itself breaking ties.
export function sortEntries<T extends EntryLike>(entries: T[]): T[] {
  const coll = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const dir = (e: T) => (e.type === "dir" || e.type === "directory" ? 0 : 1);
  return entries.slice().sort((a, b) => dir(a) - dir(b) || coll.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export const NAME_MAX = 255; // bytes of a file name (NAME_MAX on Linux, CL_CHAT_ATTACH_NAME_MAX)

// A name fit to be one path segment: no "/" or NUL or other control
// characters, not "." or "..", at most NAME_MAX bytes of UTF-8 (cut
// before the extension, on a character boundary); fallback when nothing
// is left.
export function safeFileName(name: string, fallback = "file"): string {
  // eslint-disable-next-line no-control-regex
  let n = (name ?? "").replace(/[\u0000-\u001f\u007f/\\]/g, "_").trim();
  if (!n || n === "." || n === "..") n = fallback;
  const enc = new TextEncoder();
  if (enc.encode(n).length <= NAME_MAX) return n;
  const dot = n.lastIndexOf(".");
  const ext = dot > 0 && n.length - dot <= 16 ? n.slice(dot) : "";
  let stem = Array.from(ext ? n.slice(0, dot) : n);
  while (stem.length && enc.encode(stem.join("") + ext).length > NAME_MAX) stem.pop();
  return stem.join("") + ext;
}

// A name for a pasted image or file that came without one: pasted-<time>.<ext>.
export function pastedName(mime: string, when: Date): string {
  const ext: Record<string, string> = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "text/plain": "txt",
    "application/pdf": "pdf",
  };
  const pad = (x: number) => String(x).padStart(2, "0");
  const stamp = `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}-${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
  return `pasted-${stamp}.${ext[mime] ?? "bin"}`;
}

// ---- refusals ------------------------------------------------------------------

export interface ErrLike {
  status: number;
  code: string;
  message: string;
}

// A files request's refusal in words (docs/chat.md, "Files", "Errors"),
// with the agent's own message where it says which rule applied, and the
// code. null: not a files refusal (the chat view's words apply).
export function filesErrorText(e: ErrLike): string | null {
  const why = e.message && !/^Request failed/.test(e.message) ? ` The agent says: ${e.message.replace(/\.?$/, ".")}` : "";
  const words: Record<string, string> = {
    forbidden_path: "Not allowed there: the agent reads only in its allowed folders ($HOME and /tmp unless its owner set others) and writes only inside $HOME, never through a link leading out, and only regular files and folders.",
    bad_path: "That path is not accepted (a “..”, a control character, or too long).",
    not_found: "Not found: nothing is at that path, or its folder does not exist.",
    exists: "Something with that name is there already.",
    upload_too_large: `Too large: the agent takes uploads of at most ${fmtSize(UPLOAD_MAX)}.`,
    chunk_too_large: "The agent refused a piece of the upload as too large.",
    too_many_uploads: "The agent has too many uploads in progress; try again when one is done.",
    no_upload: "The agent no longer has this upload (it waited too long, or stopped); start it again.",
    bad_offset: "The upload lost its place; start it again.",
    io_error: "The agent could not read or write the file.",
    capability_denied: "The agent refuses files: “files” is not among the capabilities its owner declared in the agent's config.",
    unsupported: "This device's agent does not support that yet.",
    files_unavailable: "The agent cannot serve files now: it has no usable home directory, or its files_read_roots setting is malformed (its log says which).",
    // a files request an agent without the files API does not know
    no_route: "This device's agent does not serve files (an older clawlink agent, or a connector without the files API).",
  };
  const w = words[e.code];
  if (!w) return null;
  // where the agent says which rule applied, its words are enough
  const short: Record<string, string> = { forbidden_path: "Not allowed there.", bad_path: "That path is not accepted.", io_error: "The agent could not read or write the file.", bad_offset: "The upload lost its place; start it again." };
  return why && short[e.code] ? `${short[e.code]}${why} (${e.code})` : `${w} (${e.code})`;
}

// ---- attachments -------------------------------------------------------------------

// What one message may carry (docs/chat.md "Attachments"):
// CL_CHAT_ATTACH_COUNT_MAX files, CL_CHAT_ATTACH_MAX bytes together, none
// empty (the agent refuses each with 413 too_large or 400 bad_request).
export const ATTACH_COUNT_MAX = 4;
export const ATTACH_MAX = 2 * 1024 * 1024;

// Why a file cannot join the ones attached already (their sizes), in
// words; null when it can.
export function attachRefusal(have: number[], name: string, size: number): string | null {
  if (have.length >= ATTACH_COUNT_MAX) return `${name}: a message carries at most ${ATTACH_COUNT_MAX} files.`;
  if (size <= 0) return `${name} is empty: there is nothing to attach.`;
  const total = have.reduce((a, b) => a + b, 0);
  if (total + size > ATTACH_MAX)
    return `${name} (${fmtSize(size)}) is too large to attach: a message carries at most ${fmtSize(ATTACH_MAX)} of files together${total ? ` (${fmtSize(total)} attached already)` : ""}. Upload it with Files instead and name it in your message.`;
  return null;
}

// Where an attachment is uploaded before it is sent, relative to $HOME: a
// folder of its own under ~/.clawlink/uploads, so the file keeps its name
// (the message lists it by that name).
export function uploadDir(when: Date, rand: string): string {
  const pad = (x: number) => String(x).padStart(2, "0");
  return `.clawlink/uploads/${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}-${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}-${rand}`;
}
