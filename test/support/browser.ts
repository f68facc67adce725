import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/**
 * Real Chromium for the hosted-page tests: Debian's package (`npx playwright install` cannot download browsers here),
 * driven by playwright-core, phone-sized. Without /usr/bin/chromium a browser suite is skipped with a message —
 * never under CI, where .ci/run installs it and a missing browser must fail.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const PHONE = { width: 390, height: 844 };
export const SHOTS = process.env.SCREENSHOT_DIR ?? path.join(tmpdir(), 'settle-browser-screenshots');

const available = existsSync(CHROMIUM);
if (!available && !process.env.CI) {
  console.warn(`[browser] ${CHROMIUM} is missing: skipping the Chromium tests (apt-get install chromium, or run .ci/run, which installs it)`);
}

/** `describe`, or `describe.skip` when Chromium is missing outside CI. */
export const browserSuite = available || process.env.CI ? describe : describe.skip;

/**
 * A headless, phone-sized Chromium with a fresh profile. The flags keep it off the network: without the
 * background-networking ones Chromium's own connections are refused by this machine's closed network.
 */
export function launchPhoneBrowser(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    timeout: 30_000,
  });
}
