// Bundle src/index.ts into ONE minified IIFE: backend/static/widget.js (served at /widget.js).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../../../backend/static/widget.js", import.meta.url));

await build({
  entryPoints: [fileURLToPath(new URL("../src/index.ts", import.meta.url))],
  outfile: out,
  bundle: true,
  format: "iife",
  target: "es2019",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  banner: { js: "/* deskpilot chat widget: built from frontend/widget, do not edit */" },
  logLevel: "info",
});
