#!/usr/bin/env node
// A BROWSER program for credctl's OAuth tests: headless Debian Chromium driven by playwright-core.
//
//   BROWSER=tests/oauth/browser.mjs credctl oauth login ...                      (approve)
//   CREDCTL_TEST_BROWSER_MODE=deny BROWSER=tests/oauth/browser.mjs credctl ...   (deny consent)
//   tests/oauth/browser.mjs --mode device --user-code ABCD-EFGH VERIFICATION_URI
//
// Python's `webbrowser` runs $BROWSER as one program name followed by the URL (it does not
// split the variable at spaces), so the options also come from the environment:
// CREDCTL_TEST_BROWSER_MODE (approve | deny | device) and CREDCTL_TEST_BROWSER_LOG.
//
// Python's `webbrowser` waits for a BROWSER command to exit, so the parent forks a detached
// child and exits at once; the child drives Chromium through the provider's own pages (login as
// the test user, consent or abort, or type the device user code) and appends JSON lines to the
// log file named by --log or CREDCTL_TEST_BROWSER_LOG: {"step": ...} while it works and one
// {"done": true, "ok": ..., "callback": {...}} at the end.  The callback's query parameters are
// logged so that tests can check that credctl never prints the authorization code.
//
// Chromium is always /usr/bin/chromium (Debian's package), never a downloaded browser, with a
// fresh user-data dir; every request outside 127.0.0.1 is blocked.

import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: 'string', default: process.env.CREDCTL_TEST_BROWSER_MODE || 'approve' },
    'user-code': { type: 'string', default: '' },
    log: { type: 'string', default: process.env.CREDCTL_TEST_BROWSER_LOG || '' },
    login: { type: 'string', default: 'test-user' },
    child: { type: 'boolean', default: false },
    foreground: { type: 'boolean', default: false },
  },
});

const url = positionals[0];
if (!url) {
  process.stderr.write('usage: browser.mjs [--mode approve|deny|device] [--user-code C] URL\n');
  process.exit(2);
}

function log(entry) {
  const line = `${JSON.stringify({ t: Date.now() / 1000, ...entry })}\n`;
  if (opts.log) appendFileSync(opts.log, line);
  else process.stderr.write(line);
}

if (!opts.child && !opts.foreground) {
  // Detach: webbrowser.open() returns as soon as this process exits, and the child must not
  // hold the caller's stdout/stderr pipes open.
  const out = opts.log ? openSync(opts.log, 'a') : 'ignore';
  const args = [fileURLToPath(import.meta.url), '--child', '--mode', opts.mode,
    '--user-code', opts['user-code'], '--login', opts.login];
  if (opts.log) args.push('--log', opts.log);
  args.push(url);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  process.exit(0);
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const { chromium } = await import('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'credctl-chromium-'));
let context;
let result = { done: true, ok: false };
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    timeout: 30000,
  });
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname === '127.0.0.1' ? route.continue() : route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const providerOrigin = new URL(url).origin;
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  for (let step = 0; step < 12; step += 1) {
    await page.waitForLoadState('domcontentloaded');
    const here = new URL(page.url());
    if (here.origin !== providerOrigin) {
      // The provider redirected to the client's loopback redirect URI.
      const callback = Object.fromEntries(here.searchParams.entries());
      const text = (await page.textContent('body').catch(() => '')) || '';
      result = { done: true, ok: true, callback, page: text.trim().slice(0, 200) };
      break;
    }
    const title = await page.title();
    if (title === 'Sign-in Success') {
      result = { done: true, ok: true, device: 'approved' };
      break;
    }
    const body = await page.content();
    // Every action below submits a form; wait for the page it leads to (after redirects).
    const navigated = page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: 15000 })
      .catch(() => {});
    if (await page.locator('input[name="user_code"][type="text"]').count()) {
      log({ step: 'user_code' });
      await page.fill('input[name="user_code"]', opts['user-code']);
      await page.click('button[form="op.deviceInputForm"]');
    } else if (await page.locator('form[id="op.deviceConfirmForm"]').count()) {
      log({ step: 'confirm_device' });
      await page.click('button[autofocus]');
    } else if (await page.locator('input[name="login"]').count()) {
      log({ step: 'login' });
      await page.fill('input[name="login"]', opts.login);
      await page.fill('input[name="password"]', 'FAKE-password');
      await page.click('button[type="submit"]');
    } else if (await page.locator('input[name="prompt"][value="consent"]').count()) {
      if (opts.mode === 'deny') {
        log({ step: 'deny' });
        await page.click('a[href*="/abort"]');
      } else {
        log({ step: 'consent' });
        await page.click('button[type="submit"]');
      }
    } else {
      result = { done: true, ok: false, error: 'unexpected page', title, body: body.slice(0, 500) };
      break;
    }
    await navigated;
  }
} catch (err) {
  result = { done: true, ok: false, error: String(err && err.message ? err.message : err) };
} finally {
  log(result);
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(result.ok ? 0 : 1);
