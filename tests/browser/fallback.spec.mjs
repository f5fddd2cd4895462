// The page where WebSockets cannot get through, in headless Chromium: with the browser's
// WebSocket gone, and behind a real nginx that does not pass the upgrade, the page chats over
// the HTTP fallback (docs/chat-protocol.md) with a WebSocket user, and says so. One server for
// both tests. Run through tests/browser/run.sh (which installs nginx).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, startServer, stopServer, joinedPage, shot, userNames, watchSockets, notices,
} from './support.mjs';
import { startProxy } from './proxy.mjs';

let server;
let browser;
let baseUrl;
const pageErrors = [];

before(async () => {
  const started = await startServer();
  server = started.child;
  baseUrl = started.url;
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await stopServer(server);
  assert.deepEqual(pageErrors, [], 'no script errors on the pages');
});

const statusText = (page) => page.locator('#status-text').textContent();

/** Says `text` on `from` and waits until `to` shows it from `nick`. */
async function says(from, to, nick, text) {
  await from.locator('#text').fill(text);
  await from.locator('#text').press('Enter');
  const line = to.locator('.msg', { hasText: text }).last();
  await line.waitFor();
  assert.equal(await line.locator('.body').textContent(), text);
  assert.match(await line.textContent(), new RegExp(nick));
  // The sender's own copy came back (the composer clears only then).
  await from.waitForFunction(() => document.getElementById('text').value === '');
}

/** The two pages chat both ways and list each other; `fallback` is on the HTTP fallback. */
async function chatBothWays(fallback, fallbackNick, websocket, websocketNick) {
  await websocket.locator('#users .name', { hasText: fallbackNick }).waitFor();
  await fallback.locator('#users .name', { hasText: websocketNick }).waitFor();
  assert.deepEqual((await userNames(fallback)).sort(), [fallbackNick, websocketNick].sort());
  assert.deepEqual((await userNames(websocket)).sort(), [fallbackNick, websocketNick].sort());
  // Typing travels both ways (first: the page sends one notice per 2 s of typing).
  await fallback.locator('#text').pressSequentially('abc', { delay: 20 });
  await websocket.locator('#typing', { hasText: `${fallbackNick} is typing…` }).waitFor();
  await websocket.locator('#text').pressSequentially('abc', { delay: 20 });
  await fallback.locator('#typing', { hasText: `${websocketNick} is typing…` }).waitFor();
  await says(fallback, websocket, fallbackNick, `Hello from ${fallbackNick}, over plain HTTP <3`);
  await says(websocket, fallback, websocketNick, `Hi ${fallbackNick}, from a WebSocket`);
}

test('with no WebSocket in the browser the page chats over the HTTP fallback', async () => {
  // The browser has no WebSocket at all (as with some extensions and locked-down browsers):
  // constructing one throws.
  const prepare = (page) => page.addInitScript(() => { delete window.WebSocket; });
  const ada = await joinedPage(browser, baseUrl, 'Ada', { errors: pageErrors, prepare });
  const grace = await joinedPage(browser, baseUrl, 'Grace', { errors: pageErrors });
  assert.equal(await statusText(ada), 'Connected (HTTP fallback)');
  assert.equal(await statusText(grace), 'Connected (WebSocket)');
  await chatBothWays(ada, 'Ada', grace, 'Grace');
  await shot(ada, '20-fallback-no-websocket');
  // Closing the page ends its session at once (not when it expires, 30 s later).
  await ada.context().close();
  await grace.locator('.notice', { hasText: 'Ada left' }).waitFor();
  await grace.context().close();
});

test('behind nginx without the upgrade headers the page chats over the HTTP fallback', async () => {
  const proxy = await startProxy(baseUrl);
  try {
    const watched = {};
    const prepare = (page) => { watched.sockets = watchSockets(page); };
    const linus = await joinedPage(browser, proxy.url, 'Linus', { errors: pageErrors, prepare });
    // Its WebSocket was tried (and refused by the proxy's plain GET) before the fallback.
    assert.ok(watched.sockets.sockets.length >= 1, 'the page tried a WebSocket first');
    assert.equal(await statusText(linus), 'Connected (HTTP fallback)');
    const barbara = await joinedPage(browser, baseUrl, 'Barbara', { errors: pageErrors });
    assert.equal(await statusText(barbara), 'Connected (WebSocket)');
    await chatBothWays(linus, 'Linus', barbara, 'Barbara');
    await shot(linus, '21-fallback-behind-nginx');
    await linus.context().close();
    await barbara.locator('.notice', { hasText: 'Linus left' }).waitFor();
    await barbara.context().close();
  } finally {
    await proxy.stop();
  }
});

test('a WebSocket that opens, then closes before anything arrives, hands over without a second notice', async () => {
  // The first WebSocket works; every later one is closed by the browser as soon as it opens
  // (as a proxy that accepts the upgrade and then cuts the stream would).
  const prepare = (page) => page.addInitScript(() => {
    const Real = window.WebSocket;
    window.madeSockets = [];
    window.WebSocket = class extends Real {
      constructor(...args) {
        super(...args);
        window.madeSockets.push(this);
        if (window.madeSockets.length > 1) this.addEventListener('open', () => this.close());
      }
    };
  });
  const ada = await joinedPage(browser, baseUrl, 'Ada', { errors: pageErrors, prepare });
  assert.equal(await statusText(ada), 'Connected (WebSocket)');
  await ada.evaluate(() => window.madeSockets[0].close());
  await ada.locator('#status-text', { hasText: 'Connected (HTTP fallback)' }).waitFor();
  await ada.locator('#users .name', { hasText: 'Ada' }).waitFor();
  // One reconnection, one notice: the WebSocket's brief open and the fallback's are one connect.
  const reconnected = (await notices(ada)).filter((text) => text.includes('Reconnected'));
  assert.deepEqual(reconnected, ['Reconnected.']);
  await ada.context().close();
});
