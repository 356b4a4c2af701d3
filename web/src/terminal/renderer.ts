// Which renderer draws the terminal, and what the WebGL one needs to draw
// right on any screen (docs/decisions.md, "The terminal's renderer").
//
// Two facts measured in Chromium decide it:
// - A WebGL that runs in software (SwiftShader, llvmpipe: VMs, remote
//   desktops, machines without a GPU driver) draws several times slower
//   than xterm.js's DOM renderer and stalls the page reading pixels back.
//   "auto" therefore takes WebGL only from a hardware driver.
// - @xterm/addon-webgl 0.19 sizes its canvas twice: from devicePixelRatio
//   (the GL viewport, the glyphs) and then from a ResizeObserver's
//   device-pixel-content-box (the canvas's backing store). Where the two
//   disagree, the viewport is larger than the canvas and the picture lands
//   cropped at the bottom left: at ratio 2 the top rows fall off (a blank
//   terminal) or the text shows at double size. They disagree under
//   Chromium's device-metrics emulation (DevTools' device mode,
//   Playwright's deviceScaleFactor), where devicePixelRatio changes but the
//   device-pixel box keeps the real screen's pixels. There we hide that
//   box from the addon while it starts, so it takes the path it takes in
//   browsers without the API (Firefox, Safari): the canvas follows
//   devicePixelRatio alone, which is then the only consistent truth.
import type { RendererPref } from "./prefs";

export type RendererKind = "webgl" | "dom";

export interface WebglInfo {
  available: boolean; // a WebGL2 context can be made
  software: boolean; // … but it is drawn by the CPU
  name: string; // the driver's name when the browser tells it, else ""
}

// Driver names of software rasterisers (Chromium's SwiftShader, Mesa's
// llvmpipe/softpipe/lavapipe, Windows' Basic Render Driver).
const SOFTWARE_RE = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render driver/i;

export function isSoftwareRenderer(name: string): boolean {
  return SOFTWARE_RE.test(name);
}

let cached: WebglInfo | null = null;

// What WebGL this browser offers (asked once; the probe context is given
// back at once, browsers allow only a few).
export function webglInfo(): WebglInfo {
  if (cached) return cached;
  let info: WebglInfo = { available: false, software: false, name: "" };
  try {
    const c = document.createElement("canvas");
    // a browser that knows its WebGL is slow may refuse it outright here
    const fast = c.getContext("webgl2", { failIfMajorPerformanceCaveat: true });
    const gl = fast ?? document.createElement("canvas").getContext("webgl2");
    if (gl) {
      const ext = gl.getExtension("WEBGL_debug_renderer_info");
      const name = String((ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER)) ?? "");
      info = { available: true, software: !fast || isSoftwareRenderer(name), name };
      gl.getExtension("WEBGL_lose_context")?.loseContext();
    }
  } catch {
    /* no WebGL */
  }
  cached = info;
  return info;
}

export interface RendererChoice {
  kind: RendererKind;
  why: string; // for the settings page
}

// The renderer for a preference: "dom" and "webgl" are the user's word
// (WebGL only where there is one at all), "auto" takes WebGL from a GPU.
export function chooseRenderer(pref: RendererPref, info: WebglInfo): RendererChoice {
  const gpu = info.name ? ` (${info.name})` : "";
  if (pref === "dom") return { kind: "dom", why: "the DOM renderer, as chosen" };
  if (!info.available) return { kind: "dom", why: "the DOM renderer: this browser offers no WebGL2" };
  if (pref === "webgl") return { kind: "webgl", why: `WebGL, as chosen${gpu}` };
  if (info.software) {
    return { kind: "dom", why: `the DOM renderer: this browser's WebGL is drawn in software${gpu}, which is slower` };
  }
  return { kind: "webgl", why: `WebGL on the GPU${gpu}` };
}

// True when the browser's device-pixel-content-box agrees with
// devicePixelRatio (within a pixel of rounding), or when it has no such
// box. Measured on a hidden element; resolves on the next rendering step.
export function devicePixelBoxAgrees(win: Window = window): Promise<boolean> {
  return new Promise((resolve) => {
    const doc = win.document;
    const el = doc.createElement("div");
    el.setAttribute("aria-hidden", "true");
    el.style.cssText = "position:fixed;left:0;top:0;width:97px;height:53px;visibility:hidden;pointer-events:none";
    doc.body.append(el);
    const done = (v: boolean) => {
      ro.disconnect();
      el.remove();
      resolve(v);
    };
    const RO = (win as Window & { ResizeObserver: typeof ResizeObserver }).ResizeObserver;
    const ro = new RO((entries) => {
      const e = entries[0];
      const dev = e?.devicePixelContentBoxSize?.[0];
      const css = e?.contentBoxSize?.[0];
      if (!dev || !css) return done(true);
      const dpr = win.devicePixelRatio;
      done(Math.abs(dev.inlineSize - css.inlineSize * dpr) <= 1 && Math.abs(dev.blockSize - css.blockSize * dpr) <= 1);
    });
    try {
      ro.observe(el, { box: "device-pixel-content-box" });
    } catch {
      done(true); // no such box: nothing can disagree
    }
  });
}

// Runs fn (which loads the WebGL addon) while the window's ResizeObserver
// refuses to observe device-pixel-content-box, the way browsers without
// that box do; any other observation works as usual. Synchronous: the
// original is back before fn's caller continues.
export function withoutDevicePixelBox<T>(win: Window, fn: () => T): T {
  const w = win as Window & { ResizeObserver: typeof ResizeObserver };
  const Original = w.ResizeObserver;
  class NoDevicePixelBox extends Original {
    observe(target: Element, options?: ResizeObserverOptions): void {
      if (options?.box === "device-pixel-content-box" || (Array.isArray(options?.box) && (options.box as string[]).includes("device-pixel-content-box"))) {
        throw new TypeError("device-pixel-content-box disagrees with devicePixelRatio here");
      }
      super.observe(target, options);
    }
  }
  w.ResizeObserver = NoDevicePixelBox;
  try {
    return fn();
  } finally {
    w.ResizeObserver = Original;
  }
}
