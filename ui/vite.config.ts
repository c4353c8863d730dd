import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Connect, Plugin } from "vite";
import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

/**
 * In `npm run dev` and `npm run preview`, answers `/room/{room}` with the student page, as
 * the relay does. `LECTERN_RELAY=http://127.0.0.1:8686 npm run dev` also forwards
 * signaling and WHEP to a running relay.
 */
function studentRoute(): Plugin {
  const rewrite: Connect.NextHandleFunction = (req, _res, next) => {
    const url = req.url ?? "";
    if (/^\/room\/[^/?#]+\/?(\?|$)/.test(url)) {
      const query = url.indexOf("?");
      req.url = `/student.html${query >= 0 ? url.slice(query) : ""}`;
    }
    next();
  };
  return {
    name: "lectern-student-route",
    configureServer: (server) => void server.middlewares.use(rewrite),
    configurePreviewServer: (server) => void server.middlewares.use(rewrite),
  };
}

/**
 * pdf.js's data files, which it fetches by name from a directory URL: the CMaps that CJK
 * PDFs name without embedding (without them their text does not show), the standard
 * fonts, ICC profiles and its WebAssembly decoders (with their JavaScript fallback and
 * the licenses that travel with them). Emitted as they are under
 * `assets/pdfjs-<version>/`, a path that changes with the version (the relay serves
 * `assets/` as immutable), and served from node_modules by the dev server.
 */
export const PDFJS_DATA = ["cmaps", "standard_fonts", "iccs", "wasm"] as const;
function pdfjsData(): Plugin {
  const root = fileURLToPath(new URL("./node_modules/pdfjs-dist/", import.meta.url));
  const version = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }).version;
  const prefix = `/assets/pdfjs-${version}/`;
  return {
    name: "lectern-pdfjs-data",
    config: () => ({ define: { __PDFJS_DATA__: JSON.stringify(prefix) } }),
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? "").split("?")[0];
        if (!url.startsWith(prefix)) return next();
        const [dir, file, ...rest] = url.slice(prefix.length).split("/");
        if (!(PDFJS_DATA as readonly string[]).includes(dir) || !file || rest.length || file.includes("..")) return next();
        try {
          const body = readFileSync(`${root}${dir}/${file}`);
          if (file.endsWith(".wasm")) res.setHeader("content-type", "application/wasm");
          res.end(body);
        } catch {
          next();
        }
      });
    },
    generateBundle() {
      for (const dir of PDFJS_DATA) {
        for (const file of readdirSync(`${root}${dir}`)) {
          this.emitFile({
            type: "asset",
            fileName: `${prefix.slice(1)}${dir}/${file}`,
            source: readFileSync(`${root}${dir}/${file}`),
          });
        }
      }
    },
  };
}

const relay = process.env.LECTERN_RELAY;

// Tauri serves the dev build from a fixed port and loads `dist` in production.
// Both pages use absolute `/assets/…` URLs: Tauri serves `dist` at its root, and the relay
// serves `dist/student.html` at `/room/{room}` and `dist/assets` at `/assets`.
export default defineConfig({
  plugins: [vue(), studentRoute(), pdfjsData()],
  base: "/",
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    watch: { ignored: ["**/src-tauri/**"] },
    proxy: relay
      ? {
          "/ws": { target: relay, ws: true },
          "/whep": { target: relay },
        }
      : undefined,
  },
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    target: ["es2021", "chrome105", "safari15"],
    outDir: "dist",
    emptyOutDir: true,
    // pdf.js (about 500 kB) is its own chunk, loaded only when a board shows a document;
    // its worker is copied as it is (`pdf.worker.min.mjs?url` in src/board/pdf.ts).
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      input: {
        index: page("./index.html"),
        student: page("./student.html"),
        "board-demo": page("./board-demo.html"),
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
