// A reconnect storm (issue 20, case 5): the page's retry delays against their spec, then
// STORM_PAGES real pages (default 24) joined to one chat whose server is killed, and started
// again on the same port once every page has retried STORM_RETRIES times (default 2, about
// 1.5 s of retrying: 0.5 s, then 1 s, each ±20 %): every page must come back, and
// the jitter must spread their reconnections out instead of landing them at one instant.
// Each page records, in its own clock (Date.now(), one clock on this machine), when it saw
// the connection drop and when it was online again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { joinedPage, launchBrowser, startServer, stopServer, until } from './support.mjs';

const APP_JS = join(dirname(fileURLToPath(import.meta.url)), '../../src/apps/chat/page/app.js');
const PAGES = Number(process.env.STORM_PAGES || 24);
const RETRIES = Number(process.env.STORM_RETRIES || 2);
const WINDOW_MS = 100;

// The page's own delay functions, taken from app.js, run against a state and a Math.random
// of the test's choosing.
function pageDelays(random) {
  const source = readFileSync(APP_JS, 'utf8');
  const body = (name) => new RegExp(`function ${name}\\(\\) \\{[\\s\\S]*?\\n  \\}`).exec(source)[0];
  const constant = (name) => new RegExp(`const ${name} = \\d+;`).exec(source)[0];
  const make = new Function('state', 'Math', [
    constant('POLICY_BACKOFF_MIN'), constant('POLICY_BACKOFF_MAX'),
    body('retryDelay'), body('policyDelay'), 'return { retryDelay, policyDelay };',
  ].join('\n'));
  const state = { attempt: 0, policyCloses: 0 };
  const math = Object.create(Math, { random: { value: random } });
  return { state, ...make(state, math) };
}

test('the retry delays follow their spec: 0.5 s doubling to 10 s ±20 %; after 1008, 5 s doubling to 60 s +0–20 %', () => {
  for (const [random, factor] of [[() => 0, 0.8], [() => 0.999999, 1.2]]) {
    const { retryDelay, policyDelay } = pageDelays(random);
    for (let attempt = 0; attempt < 14; attempt += 1) {
      const expected = Math.min(10_000, 500 * 2 ** attempt) * factor;
      assert.ok(Math.abs(retryDelay() - expected) < 1, `attempt ${attempt}`);
    }
    for (let close = 1; close < 8; close += 1) {
      const expected = Math.min(60_000, 5_000 * 2 ** (close - 1)) * (factor === 0.8 ? 1 : 1.2);
      assert.ok(Math.abs(policyDelay() - expected) < 1, `policy close ${close}`);
    }
  }
  // With the real Math.random, first retries of 10 000 pages cover the whole ±20 % band.
  const first = Array.from({ length: 10_000 }, () => pageDelays(Math.random).retryDelay());
  assert.ok(Math.min(...first) >= 400 && Math.min(...first) < 410, `min ${Math.min(...first)}`);
  assert.ok(Math.max(...first) <= 600 && Math.max(...first) > 590, `max ${Math.max(...first)}`);
});

// Installed before the page's scripts: notes each state the page's status takes, and when.
function recordTransitions() {
  window.stormLog = [];
  document.addEventListener('DOMContentLoaded', () => {
    const status = document.getElementById('status');
    new MutationObserver((records) => {
      const at = Date.now();
      // Each record holds the value before its change: the one after is the next record's.
      const after = records.slice(1).map((r) => r.oldValue).concat(status.dataset.state);
      for (const state of after) window.stormLog.push({ state, at });
    }).observe(status, { attributes: true, attributeOldValue: true, attributeFilter: ['data-state'] });
  });
}

/** The most of `times` that fall in any window of `width` ms. */
function densest(times, width) {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j += 1) {
    while (sorted[j] - sorted[i] >= width) i += 1;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

test(`${PAGES} pages reconnect after a server restart, spread out by the jitter`, { timeout: 900_000 }, async () => {
  let { child: server, url } = await startServer();
  const browser = await launchBrowser();
  try {
    const prepare = (page) => page.addInitScript(recordTransitions);
    const pages = [];
    for (let i = 0; i < PAGES; i += 1) pages.push(await joinedPage(browser, url, `p${i}`, { prepare }));
    await stopServer(server, 'SIGKILL');
    const killed = Date.now();
    for (const page of pages) {
      await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'online');
    }
    // Down until every page has retried RETRIES times (each retry shows 'connecting').
    await until(async () => {
      const retries = await Promise.all(pages.map((p) => p.evaluate(
        (since) => window.stormLog.filter((e) => e.at >= since && e.state === 'connecting').length, killed)));
      return retries.every((n) => n >= RETRIES);
    }, `every page retried ${RETRIES} times`, 60_000);
    // Taken before the start: a page may be back before startServer has read the address.
    const restarted = Date.now();
    server = (await startServer(`127.0.0.1:${new URL(url).port}`)).child;
    await until(async () => {
      const states = await Promise.all(pages.map((p) => p.evaluate(() => document.getElementById('status').dataset.state)));
      return states.every((s) => s === 'online');
    }, 'every page back online', 60_000);
    const logs = await Promise.all(pages.map((p) => p.evaluate(() => window.stormLog)));
    const dropped = logs.map((log) => log.find((e) => e.at >= killed && e.state !== 'online').at);
    const back = logs.map((log) => log.find((e) => e.at >= restarted && e.state === 'online').at);
    const span = (times) => Math.max(...times) - Math.min(...times);
    const most = densest(back, WINDOW_MS);
    const bound = Math.ceil(PAGES / 2);
    const verdict = most <= bound && span(back) >= 250 ? 'PASS' : 'FAIL';
    console.log(`reconnect storm: ${PAGES} pages, server down ${restarted - killed} ms; drops seen within ${span(dropped)} ms ` +
      `(without jitter every page would come back within that span); back online ${Math.min(...back) - restarted}` +
      `–${Math.max(...back) - restarted} ms after the restart, spread over ${span(back)} ms, at most ${most} in any ` +
      `${WINDOW_MS} ms (bound: ${bound}, and a spread of at least 250 ms): ${verdict}`);
    assert.equal(verdict, 'PASS');
  } finally {
    await browser.close();
    await stopServer(server, 'SIGKILL');
  }
});
