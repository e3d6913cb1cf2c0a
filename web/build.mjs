// Builds the web client into services/tidings/app/ (compiled into the tidings binary):
// src/main.ts bundled with the SDK's sources (sdk/js/src) by esbuild, plus index.html and
// app.css. `node build.mjs --out DIR` writes elsewhere (the up-to-date test compares).

import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf("--out");
const out = at > 0 ? resolve(process.argv[at + 1]) : join(here, "../services/tidings/app");

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src/main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "app.css"]) copyFileSync(join(here, file), join(out, file));
