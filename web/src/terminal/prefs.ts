// The terminal's display preferences: which renderer draws it (auto, WebGL
// or DOM) and the font size. They belong to this browser, not the account
// (a phone and a desktop want different sizes), so they live in
// localStorage; /settings edits them and every open terminal follows a
// change at once, in this tab and in the others (the "storage" event).
export type RendererPref = "auto" | "webgl" | "dom";

export interface TermPrefs {
  renderer: RendererPref;
  fontSize: number; // CSS pixels
}

export const PREFS_KEY = "clawlink.terminal";
export const FONT_MIN = 8;
export const FONT_MAX = 32;
export const FONT_DEFAULT = 14;
export const DEFAULT_PREFS: TermPrefs = { renderer: "auto", fontSize: FONT_DEFAULT };

const RENDERERS: readonly RendererPref[] = ["auto", "webgl", "dom"];

// A well-formed TermPrefs from anything (a stored value from an older
// version, a hand-edited one): unknown renderers read as auto, font sizes
// are whole numbers clamped to FONT_MIN…FONT_MAX.
export function normalizePrefs(v: unknown): TermPrefs {
  const o = v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  const renderer = RENDERERS.includes(o.renderer as RendererPref) ? (o.renderer as RendererPref) : DEFAULT_PREFS.renderer;
  const n = typeof o.fontSize === "number" && Number.isFinite(o.fontSize) ? Math.round(o.fontSize) : FONT_DEFAULT;
  return { renderer, fontSize: Math.min(FONT_MAX, Math.max(FONT_MIN, n)) };
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled (some privacy modes throw)
  }
}

export function loadPrefs(): TermPrefs {
  const raw = storage()?.getItem(PREFS_KEY);
  if (!raw) return { ...DEFAULT_PREFS };
  try {
    return normalizePrefs(JSON.parse(raw));
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

type Listener = (p: TermPrefs) => void;
const listeners = new Set<Listener>();

// Stores the preferences and tells this tab's terminals (other tabs hear
// the storage event). Returns what was stored.
export function savePrefs(p: Partial<TermPrefs>): TermPrefs {
  const next = normalizePrefs({ ...loadPrefs(), ...p });
  try {
    storage()?.setItem(PREFS_KEY, JSON.stringify(next));
  } catch {
    /* full or disabled: this tab still follows */
  }
  for (const l of [...listeners]) l(next);
  return next;
}

// Calls fn with the new preferences whenever they change, here or in
// another tab; returns the unsubscribe function.
export function onPrefsChange(fn: Listener): () => void {
  const onStorage = (e: StorageEvent) => {
    if (e.key === PREFS_KEY || e.key === null) fn(loadPrefs());
  };
  listeners.add(fn);
  globalThis.addEventListener?.("storage", onStorage);
  return () => {
    listeners.delete(fn);
    globalThis.removeEventListener?.("storage", onStorage);
  };
}
