// The web app's build. `npm run build` writes dist/, which CMake embeds into
// clawlink-relay (compressed, with ETags). `npm run dev` serves the app with
// hot reload and forwards the API and WebSockets to a running relay
// (CL_RELAY, default 127.0.0.1:8080); or run the relay with --web-dir web/dist.
import { defineConfig } from "vite";

const relay = process.env.CL_RELAY ?? "127.0.0.1:8080";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets", // hashed names: the relay serves assets/ with a long cache lifetime
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": `http://${relay}`,
      "/functions": `http://${relay}`,
      "/llms.txt": `http://${relay}`,
      "/llms-full.txt": `http://${relay}`,
      "/session": { target: `ws://${relay}`, ws: true },
      "/events": { target: `ws://${relay}`, ws: true },
    },
  },
});
