// The chat page in a real browser: headless Chromium driven by playwright-core.
//
// Two people join, one types and sends, the other sees the typing indicator, the message and
// the user list; an image is sent and shown; the server is restarted on the same port and both
// pages reconnect by themselves. Screenshots go to tests/browser/output/. The page on a phone,
// drafts and notices are in page.spec.mjs, rate limits and backoff in limits.spec.mjs.
//
// Needs FULLDUPLEX_BIN (the built binary); run through tests/browser/run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, startServer, stopServer, openChat, submitJoin, shot, userNames, status,
  notices, noticeShown,
} from './support.mjs';

let server;
let browser;
let baseUrl;
const pageErrors = [];

async function openPage(nick) {
  const page = await openChat(browser, baseUrl, { errors: pageErrors });
  if (nick === 'Ada') await shot(page, '00-join');
  await submitJoin(page, nick);
  await page.locator('#join').waitFor({ state: 'hidden' });
  await page.locator('.notice.welcome').last().waitFor();
  return page;
}

before(async () => {
  const started = await startServer();
  server = started.child;
  baseUrl = started.url;
  browser = await launchBrowser();
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

  // The server stops and starts again on the same port. Its 1001 Close says it is shutting
  // down, not restarting: the pages say what they know, mark the list as the last one seen,
  // and reconnect by themselves.
  const port = new URL(baseUrl).port;
  assert.equal(await stopServer(server), 0, 'the chat exits cleanly on SIGINT');
  for (const page of [ada, grace]) {
    await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'online');
    await noticeShown(page, 'The server closed the connection (server shutting down); reconnecting…');
    assert.ok(!(await notices(page)).some((n) => /restarting/i.test(n)), 'no restart is claimed');
    assert.equal(await page.locator('#people-label').textContent(), 'Offline · last seen');
    assert.ok(await page.locator('#people.stale').isVisible(), 'the list is marked stale');
    assert.deepEqual((await userNames(page)).sort(), ['Ada', 'Grace'], 'the last list stays');
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
  await ada.locator('#people-label', { hasText: /^Online$/ }).waitFor();

  await grace.locator('#text').fill('Still here after the restart.');
  await grace.locator('#text').press('Enter');
  await ada.locator('.msg .body', { hasText: 'Still here after the restart.' }).waitFor();
  await shot(ada, '05-reconnected');
  assert.deepEqual(pageErrors, [], 'no script errors on the pages');
});
