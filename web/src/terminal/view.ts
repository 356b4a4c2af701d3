// The terminal on screen: xterm.js 6 with its addons (fit, web links,
// search, Unicode 11 widths, WebGL where renderer.ts says it pays). Knows
// nothing of the relay: the page wires it to a TermConnection.
//
// Device pixels: the view follows the browser's devicePixelRatio (a window
// moved to another screen, a zoom): it refits (the cell size in CSS pixels
// depends on the ratio) and redraws. The renderer and the font size come
// from the user's preferences (prefs.ts) and change while it runs.
import "@xterm/xterm/css/xterm.css";
import { Terminal, type IDisposable } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { SearchAddon, type ISearchOptions } from "@xterm/addon-search";
import { Unicode11Addon } from "@xterm/addon-unicode11";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { WebglAddon } from "@xterm/addon-webgl";
import { loadPrefs, onPrefsChange, type RendererPref, type TermPrefs } from "./prefs";
import { chooseRenderer, devicePixelBoxAgrees, webglInfo, withoutDevicePixelBox, type RendererKind } from "./renderer";

export interface ViewOptions {
  onData(data: string): void; // typed or pasted text
  onBinary(data: string): void; // raw bytes (some mouse reports), code points 0–255
  onResize(cols: number, rows: number): void;
  // Runs before xterm.js handles a key; false: xterm.js ignores it.
  onKey?(ev: KeyboardEvent): boolean;
}

export const FIT_DEBOUNCE = 80; // ms between a size change and the refit
export const SCROLLBACK = 5000; // lines

const SEARCH: ISearchOptions = {
  caseSensitive: false,
  decorations: {
    matchBackground: "#334155",
    matchOverviewRuler: "#94a3b8",
    activeMatchBackground: "#0ea5e9",
    activeMatchColorOverviewRuler: "#38bdf8",
  },
};

export class TermView {
  readonly term: Terminal;
  private fitAddon = new FitAddon();
  private searchAddon = new SearchAddon();
  private webgl: WebglAddon | null = null;
  private observer: ResizeObserver | null = null;
  private fitTimer: ReturnType<typeof setTimeout> | null = null;
  private subs: IDisposable[] = [];
  private onWindowResize = () => this.scheduleFit();
  private disposed = false;
  private rendererPref: RendererPref;
  private rendererSeq = 0; // the latest renderer switch; older ones give way
  private dprQuery: MediaQueryList | null = null;
  private onDprChange = () => this.dprChanged();
  private boxAgrees = true; // the device-pixel box the WebGL addon started with agreed
  private unsubscribePrefs: () => void;

  constructor(
    private el: HTMLElement,
    o: ViewOptions,
    prefs: TermPrefs = loadPrefs(),
  ) {
    this.rendererPref = prefs.renderer;
    this.term = new Terminal({
      allowProposedApi: true, // unicode.activeVersion
      cursorBlink: true,
      fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: prefs.fontSize,
      scrollback: SCROLLBACK,
      theme: {
        background: "#070b16",
        foreground: "#e2e8f0",
        cursor: "#38bdf8",
        selectionBackground: "#38bdf866",
      },
    });
    this.term.loadAddon(this.fitAddon);
    this.term.loadAddon(this.searchAddon);
    this.term.loadAddon(new WebLinksAddon());
    this.term.loadAddon(new Unicode11Addon());
    this.term.unicode.activeVersion = "11";
    this.term.open(el);
    if (o.onKey) this.term.attachCustomKeyEventHandler(o.onKey);
    this.subs.push(
      this.term.onData(o.onData),
      this.term.onBinary(o.onBinary),
      this.term.onResize(({ cols, rows }) => o.onResize(cols, rows)),
    );
    this.observer = new ResizeObserver(() => this.scheduleFit());
    this.observer.observe(el);
    window.addEventListener("resize", this.onWindowResize);
    this.watchDpr();
    this.unsubscribePrefs = onPrefsChange((p) => this.applyPrefs(p));
    this.fitNow();
    // xterm.js draws with its DOM renderer until WebGL, if chosen, is up
    void this.setRenderer(this.rendererPref);
  }

  // New preferences (from /settings, in this tab or another).
  applyPrefs(p: TermPrefs): void {
    if (this.disposed) return;
    if (this.term.options.fontSize !== p.fontSize) {
      this.term.options.fontSize = p.fontSize;
      this.fitNow();
      this.scheduleFit(); // once more after the new glyphs are measured
    }
    if (p.renderer !== this.rendererPref) {
      this.rendererPref = p.renderer;
      void this.setRenderer(p.renderer);
    }
  }

  // Switches to the renderer the preference asks for on this browser.
  private async setRenderer(pref: RendererPref): Promise<void> {
    const seq = ++this.rendererSeq;
    const want: RendererKind = chooseRenderer(pref, webglInfo()).kind;
    if (want === "dom") {
      this.dropWebgl();
      return;
    }
    // the answer takes a rendering step; meanwhile the DOM renderer draws
    const agrees = await devicePixelBoxAgrees();
    if (this.disposed || seq !== this.rendererSeq) return;
    if (this.webgl && agrees === this.boxAgrees) return;
    this.dropWebgl();
    this.loadWebgl(agrees);
  }

  private loadWebgl(boxAgrees: boolean): void {
    let w: WebglAddon | null = null;
    try {
      w = new WebglAddon();
      const addon = w;
      const sub = addon.onContextLoss(() => {
        // back to the DOM renderer
        sub.dispose();
        addon.dispose();
        if (this.webgl === addon) this.webgl = null;
        this.fitNow();
      });
      const load = () => this.term.loadAddon(addon);
      if (boxAgrees) load();
      else withoutDevicePixelBox(window, load);
      this.webgl = addon;
      this.boxAgrees = boxAgrees;
    } catch {
      w?.dispose();
      this.webgl = null; // the DOM renderer it is
    }
    this.redraw();
  }

  private dropWebgl(): void {
    const w = this.webgl;
    if (!w) return;
    this.webgl = null;
    w.dispose(); // xterm.js goes back to its DOM renderer
    this.redraw();
  }

  // Refits (cell sizes change with the renderer and the pixel ratio) and
  // repaints every row.
  private redraw(): void {
    if (this.disposed) return;
    this.fitNow();
    this.term.refresh(0, this.term.rows - 1);
  }

  // A media query that stops matching when devicePixelRatio changes; it
  // is made again for the new ratio each time.
  private watchDpr(): void {
    this.dprQuery?.removeEventListener("change", this.onDprChange);
    this.dprQuery = window.matchMedia?.(`(resolution: ${window.devicePixelRatio}dppx)`) ?? null;
    this.dprQuery?.addEventListener("change", this.onDprChange);
  }

  private dprChanged(): void {
    if (this.disposed) return;
    this.watchDpr();
    // xterm.js re-measures its cells for the new ratio itself; the fit
    // and the WebGL canvas's device pixels are ours to follow
    this.redraw();
    if (this.webgl) {
      const seq = this.rendererSeq;
      void devicePixelBoxAgrees().then((agrees) => {
        if (this.disposed || seq !== this.rendererSeq || !this.webgl || agrees === this.boxAgrees) return;
        this.dropWebgl();
        this.loadWebgl(agrees);
      });
    }
  }

  get cols(): number {
    return this.term.cols;
  }
  get rows(): number {
    return this.term.rows;
  }
  get renderer(): RendererKind {
    return this.webgl ? "webgl" : "dom";
  }

  // Terminal bytes; done runs once xterm.js has processed them.
  write(data: Uint8Array, done: () => void): void {
    if (this.disposed) return;
    this.term.write(data, done);
  }

  // A dim line of our own between the output.
  notice(text: string): void {
    if (this.disposed) return;
    this.term.write(`\r\n\x1b[2m${text.replace(/[\x00-\x1f\x7f]/g, " ")}\x1b[0m\r\n`);
  }

  fitNow(): void {
    if (this.disposed) return;
    try {
      if (this.fitAddon.proposeDimensions()) this.fitAddon.fit();
    } catch {
      /* not laid out yet */
    }
  }

  scheduleFit(): void {
    if (this.fitTimer) clearTimeout(this.fitTimer);
    this.fitTimer = setTimeout(() => {
      this.fitTimer = null;
      this.fitNow();
    }, FIT_DEBOUNCE);
  }

  focus(): void {
    this.term.focus();
  }

  selection(): string {
    return this.term.getSelection();
  }

  // Pastes as typing would (bracketed paste when the program asked).
  paste(text: string): void {
    this.term.paste(text);
  }

  setReadOnly(ro: boolean): void {
    this.term.options.disableStdin = ro;
  }

  applicationCursor(): boolean {
    return this.term.modes.applicationCursorKeysMode;
  }

  findNext(q: string): boolean {
    return q ? this.searchAddon.findNext(q, SEARCH) : false;
  }

  findPrevious(q: string): boolean {
    return q ? this.searchAddon.findPrevious(q, SEARCH) : false;
  }

  clearSearch(): void {
    this.searchAddon.clearDecorations();
  }

  // The lines on screen, right-trimmed, joined by \n.
  text(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = b.viewportY; i < b.viewportY + this.term.rows; i++) {
      lines.push(b.getLine(i)?.translateToString(true) ?? "");
    }
    return lines.join("\n");
  }

  // Scrollback and screen, right-trimmed lines joined by \n.
  allText(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.fitTimer) clearTimeout(this.fitTimer);
    this.observer?.disconnect();
    window.removeEventListener("resize", this.onWindowResize);
    this.dprQuery?.removeEventListener("change", this.onDprChange);
    this.unsubscribePrefs();
    for (const s of this.subs) s.dispose();
    this.subs = [];
    this.term.dispose(); // disposes the addons too
    this.el.replaceChildren();
  }
}
