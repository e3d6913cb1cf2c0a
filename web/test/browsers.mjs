// Test support for the web client: each user signs in on a page of their own headless
// Chromium (Debian's /usr/bin/chromium through playwright-core; nothing downloads a browser),
// with a fresh profile; a window of its own, so no page is a background tab Chromium throttles.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.TIDINGS_CHROMIUM ?? "/usr/bin/chromium";

export class Browsers {
  browsers = [];
  profiles = [];

  /** A page of `server`'s web client signed in as `user`, connected and live. */
  async signIn(server, user, name) {
    const profile = mkdtempSync(join(tmpdir(), "tidings-chromium-"));
    this.profiles.push(profile);
    // A persistent context is how playwright takes --user-data-dir.
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 680 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    this.browsers.push(browser);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on("pageerror", (error) => assert.fail(`${user}'s page: ${error}`));
    const response = await page.goto(`${server.url}/app`);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, "/app/");
    await page.fill("input[name=user]", user);
    await page.fill("input[name=name]", name);
    await page.click("button[type=submit]");
    await page.getByTestId("me").filter({ hasText: user }).waitFor();
    await page.locator("[data-testid=state]", { hasText: "live" }).waitFor();
    return page;
  }

  async close() {
    for (const browser of this.browsers) await browser.close();
    for (const profile of this.profiles) rmSync(profile, { recursive: true, force: true });
  }
}

/** The texts of the open chat's messages. */
export const messages = (page) => page.getByTestId("messages").locator(".msg .text");

/** The open chat's message whose text contains `text`. */
export const message = (page, text) => page.getByTestId("messages").locator(".msg").filter({ has: page.locator(".text", { hasText: text }) });
