// What the browser tests share: the chat server as a child process, headless Chromium, pages
// that join, and checks of the page's layout. Needs FULLDUPLEX_BIN (the built binary).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUTPUT = join(HERE, 'output');
const BIN = process.env.FULLDUPLEX_BIN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Longest wait for anything the page or the server should do. */
export const WAIT = 10_000;

/** A phone: the viewport the issue was reported on. */
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
/** A desktop window. */
export const DESKTOP = { viewport: { width: 1100, height: 700 } };

/** Starts `fullduplex chat` on `addr`; resolves with the child and the URL it prints. */
export function startServer(addr = '127.0.0.1:0') {
  assert.ok(BIN, 'set FULLDUPLEX_BIN to the fullduplex binary');
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['chat', '--addr', addr, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('the chat printed no URL within 10 s')), WAIT);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /open (http:\/\/[0-9.:]+)\//.exec(out);
      if (url) {
        clearTimeout(timer);
        resolve({ child, url: url[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`the chat exited early (${code}): ${out}`)));
  });
}

/**
 * Stops the server and waits for it: SIGINT is a graceful shutdown (clients get 1001),
 * SIGKILL a server that simply stops (clients get no Close at all).
 */
export function stopServer(child, signal = 'SIGINT') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.on('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

/** Headless Chromium, as the README promises it works. */
export function launchBrowser() {
  mkdirSync(OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * A page of the chat at `url` (waiting for its join form), in a context of its own. Script
 * errors on it are pushed to `errors`. `prepare(page)` runs before the page loads.
 */
export async function openChat(browser, url, { device = DESKTOP, errors = [], prepare } = {}) {
  const context = await browser.newContext(device);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => errors.push(err.message));
  if (prepare) await prepare(page);
  await page.goto(`${url}/#lobby`);
  await page.locator('#nick').waitFor();
  return page;
}

/** Submits the join form as `nick`, without waiting for the answer. */
export async function submitJoin(page, nick) {
  await page.fill('#nick', nick);
  await page.click('#join-button');
}

/** A page that has joined the lobby as `nick`. */
export async function joinedPage(browser, url, nick, options) {
  const page = await openChat(browser, url, options);
  await submitJoin(page, nick);
  await page.locator('#join').waitFor({ state: 'hidden' });
  await page.locator('.notice.welcome').last().waitFor();
  return page;
}

export const shot = (page, name) => page.screenshot({ path: join(OUTPUT, `${name}.png`) });
export const userNames = (page) => page.locator('#users .name').allTextContents();
export const status = (page) => page.locator('#status').getAttribute('data-state');
export const notices = (page) => page.locator('.notice').allTextContents();

/** Waits until the page shows a notice containing `text`. */
export const noticeShown = (page, text, timeout = WAIT) =>
  page.locator('.notice', { hasText: text }).first().waitFor({ timeout });

/** Fails if the page is wider than its viewport (a horizontal scroll bar on a phone). */
export async function assertNoHorizontalOverflow(page, when) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${when}: the page is ${scrollWidth} px wide in a ${innerWidth} px viewport`);
}

/**
 * Fails unless the message input's placeholder fits it on one line, measured with a probe
 * that has the input's font.
 */
export async function assertPlaceholderFits(page, when) {
  const fit = await page.evaluate(() => {
    const input = document.getElementById('text');
    const style = getComputedStyle(input);
    const probe = document.createElement('span');
    probe.textContent = input.placeholder;
    for (const name of ['fontFamily', 'fontSize', 'fontWeight', 'fontStyle', 'letterSpacing']) {
      probe.style[name] = style[name];
    }
    probe.style.position = 'absolute';
    probe.style.whiteSpace = 'pre';
    document.body.append(probe);
    const width = probe.getBoundingClientRect().width;
    probe.remove();
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return { text: input.placeholder, width, room };
  });
  assert.ok(fit.text.length > 0, `${when}: the input has a placeholder`);
  assert.ok(fit.width <= fit.room, `${when}: “${fit.text}” is ${fit.width.toFixed(1)} px in ${fit.room} px`);
  return fit.text;
}

/**
 * Watches the page's WebSockets from the outside (Chromium's network events): how many it
 * opened, the JSON each received and sent, and whether the last one closed.
 */
export function watchSockets(page) {
  const watch = { sockets: [], received: [], sent: [] };
  const json = (payload) => {
    try { return typeof payload === 'string' ? JSON.parse(payload) : null; } catch (_) { return null; }
  };
  page.on('websocket', (ws) => {
    watch.sockets.push(ws);
    ws.on('framereceived', ({ payload }) => { const m = json(payload); if (m) watch.received.push(m); });
    ws.on('framesent', ({ payload }) => { const m = json(payload); if (m) watch.sent.push(m); });
  });
  return watch;
}

/** Polls `condition` every 50 ms until it holds; fails after `timeout` ms with `what`. */
export async function until(condition, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeout} ms`);
    await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
}
