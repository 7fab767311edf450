import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { requireUnderCi } from "./python.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** Whether Debian's chromium is installed; CI installs it (.ci/run), so there a missing one fails. */
export function hasChromium(): boolean {
  return requireUnderCi(existsSync(CHROMIUM), `${CHROMIUM} (Debian package chromium) for the browser tests`);
}

/** Headless Chromium with a fresh profile and no network of its own (no updates, sync or QUIC). */
export async function launchChromium(
  viewport = { width: 1100, height: 900 },
): Promise<{ browser: BrowserContext; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), "atomizer-chromium-"));
  // A persistent context is how Playwright takes a profile folder of one's own (--user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport,
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
  return {
    browser,
    close: async () => {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Every console error and uncaught page error, collected while the page lives. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}
