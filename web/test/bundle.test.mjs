// The built files under services/tidings/app/ (compiled into tidings) are committed; they must
// be what building web/ and sdk/js/src now produces.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");

test("services/tidings/app is the build of web/ and the SDK", () => {
  const out = mkdtempSync(join(tmpdir(), "tidings-web-"));
  try {
    execFileSync(process.execPath, [join(web, "build.mjs"), "--out", out]);
    for (const file of ["index.html", "app.js", "app.css"]) {
      const committed = readFileSync(join(web, "../services/tidings/app", file));
      assert.ok(committed.equals(readFileSync(join(out, file))), `services/tidings/app/${file} is stale: run \`npm run build\` in web/`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
