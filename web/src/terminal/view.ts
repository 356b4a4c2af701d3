// The terminal on screen: xterm.js 6 with its addons (fit, web links,
// search, Unicode 11 widths, WebGL when the browser has it). Knows nothing
// of the relay: the page wires it to a TermConnection.
import "@xterm/xterm/css/xterm.css";
import { Terminal, type IDisposable } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { SearchAddon, type ISearchOptions } from "@xterm/addon-search";
import { Unicode11Addon } from "@xterm/addon-unicode11";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { WebglAddon } from "@xterm/addon-webgl";

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

function webglAvailable(): boolean {
  try {
    const c = document.createElement("canvas");
    return !!c.getContext("webgl2");
  } catch {
    return false;
  }
}

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

  constructor(
    private el: HTMLElement,
    o: ViewOptions,
  ) {
    this.term = new Terminal({
      allowProposedApi: true, // unicode.activeVersion
      cursorBlink: true,
      fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
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
    if (webglAvailable()) {
      try {
        const w = new WebglAddon();
        this.subs.push(
          w.onContextLoss(() => {
            // back to the DOM renderer
            w.dispose();
            if (this.webgl === w) this.webgl = null;
          }),
        );
        this.term.loadAddon(w);
        this.webgl = w;
      } catch {
        this.webgl = null; // the DOM renderer it is
      }
    }
    if (o.onKey) this.term.attachCustomKeyEventHandler(o.onKey);
    this.subs.push(
      this.term.onData(o.onData),
      this.term.onBinary(o.onBinary),
      this.term.onResize(({ cols, rows }) => o.onResize(cols, rows)),
    );
    this.observer = new ResizeObserver(() => this.scheduleFit());
    this.observer.observe(el);
    window.addEventListener("resize", this.onWindowResize);
    this.fitNow();
  }

  get cols(): number {
    return this.term.cols;
  }
  get rows(): number {
    return this.term.rows;
  }
  get renderer(): "webgl" | "dom" {
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
    for (const s of this.subs) s.dispose();
    this.subs = [];
    this.term.dispose(); // disposes the addons too
    this.el.replaceChildren();
  }
}
