// The chat page in a real browser: headless Chromium driven by playwright-core.
//
// Two people join, one types and sends, the other sees the typing indicator, the message and
// the user list; an image is sent and shown; the server is restarted on the same port and both
// pages reconnect by themselves. Screenshots go to tests/browser/output/.
//
// Needs FULLDUPLEX_BIN (the built binary); run through tests/browser/run.sh.
import { test, before, after } from 'node:test';
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
const WAIT = 10_000;

let server;
let browser;
let baseUrl;
const pageErrors = [];

/** Starts `fullduplex chat` on `addr`; resolves with the URL it prints. */
function startServer(addr) {
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

/** Stops the server with SIGINT (a graceful shutdown: clients get 1001) and waits for it. */
function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.on('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

async function openPage(nick) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${nick}: ${err.message}`));
  await page.goto(`${baseUrl}/#lobby`);
  await page.locator('#nick').waitFor();
  if (nick === 'Ada') await shot(page, '00-join');
  await page.fill('#nick', nick);
  await page.click('#join-button');
  await page.locator('#join').waitFor({ state: 'hidden' });
  await page.locator('.notice.welcome').last().waitFor();
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(OUTPUT, `${name}.png`) });
const userNames = (page) => page.locator('#users .name').allTextContents();
const status = (page) => page.locator('#status').getAttribute('data-state');

before(async () => {
  assert.ok(BIN, 'set FULLDUPLEX_BIN to the fullduplex binary');
  mkdirSync(OUTPUT, { recursive: true });
  const started = await startServer('127.0.0.1:0');
  server = started.child;
  baseUrl = started.url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await stopServer(server);
});

test('two people chat, share an image, and survive a server restart', async () => {
  const ada = await openPage('Ada');
  const grace = await openPage('Grace');

  // The user list is live on both sides.
  await ada.locator('#users .name', { hasText: 'Grace' }).waitFor();
  assert.deepEqual(await userNames(grace), ['Ada', 'Grace']);
  assert.equal(await ada.locator('#count').textContent(), '2');
  await ada.locator('.notice', { hasText: 'Grace joined' }).waitFor();

  // Ada types: Grace sees the indicator before the message.
  const text = 'Hello Grace! 5 < 6 & "quotes" stay <3 plain';
  await ada.locator('#text').pressSequentially(text.slice(0, 12), { delay: 20 });
  await grace.locator('#typing', { hasText: 'Ada is typing…' }).waitFor();
  await shot(grace, '02-typing');
  await ada.locator('#text').pressSequentially(text.slice(12));
  await ada.locator('#text').press('Enter');

  const received = grace.locator('.msg .body').last();
  await received.waitFor();
  assert.equal(await received.textContent(), text);
  assert.equal(await received.locator('b, script, img').count(), 0, 'text is never parsed as HTML');
  await grace.waitForFunction(() => document.getElementById('typing').textContent === '');
  await ada.locator('.msg.mine .body', { hasText: 'Hello Grace!' }).waitFor();

  await grace.locator('#text').fill('Hi Ada, welcome aboard.');
  await grace.locator('#text').press('Enter');
  await ada.locator('.msg .body', { hasText: 'welcome aboard' }).waitFor();
  await shot(ada, '01-conversation');

  // An image travels as one binary message and is shown inline.
  const png = await ada.screenshot({ clip: { x: 0, y: 0, width: 320, height: 200 } });
  await ada.setInputFiles('#file', { name: 'screen.png', mimeType: 'image/png', buffer: png });
  const image = grace.locator('.msg .body img').last();
  await image.waitFor();
  await grace.waitForFunction(() => {
    const img = [...document.querySelectorAll('.msg .body img')].pop();
    return img && img.complete && img.naturalWidth === 320;
  });
  assert.equal(await image.getAttribute('alt'), 'screen.png');
  await shot(grace, '03-image');

  // The server restarts on the same port: both pages show it and reconnect by themselves.
  const port = new URL(baseUrl).port;
  assert.equal(await stopServer(server), 0, 'the chat exits cleanly on SIGINT');
  for (const page of [ada, grace]) {
    await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'online');
    await page.locator('.notice', { hasText: 'The server is restarting.' }).waitFor();
  }
  await shot(ada, '04-offline');
  server = (await startServer(`127.0.0.1:${port}`)).child;
  for (const page of [ada, grace]) {
    await page.waitForFunction(() => document.getElementById('status').dataset.state === 'online', null, { timeout: 15_000 });
    await page.locator('.notice', { hasText: 'Reconnected.' }).waitFor();
  }
  await grace.waitForFunction(() => document.querySelectorAll('#users .name').length === 2);
  assert.deepEqual((await userNames(ada)).sort(), ['Ada', 'Grace']);
  assert.equal(await status(grace), 'online');

  await grace.locator('#text').fill('Still here after the restart.');
  await grace.locator('#text').press('Enter');
  await ada.locator('.msg .body', { hasText: 'Still here after the restart.' }).waitFor();
  await shot(ada, '05-reconnected');
  assert.deepEqual(pageErrors, [], 'no script errors on the pages');
});
