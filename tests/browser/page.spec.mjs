// The page's own behaviour in headless Chromium: the user list on a phone, drafts that survive
// a refusal, join-form messages that answer the last submit, and close notices that say what
// is known. Each test runs its own server. Run through tests/browser/run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PHONE, launchBrowser, startServer, stopServer, openChat, submitJoin, joinedPage, shot,
  userNames, notices, noticeShown, assertNoHorizontalOverflow, assertPlaceholderFits,
} from './support.mjs';

let browser;
const servers = [];
const pageErrors = [];

before(async () => { browser = await launchBrowser(); });

after(async () => {
  if (browser) await browser.close();
  for (const server of servers) await stopServer(server);
  assert.deepEqual(pageErrors, [], 'no script errors on the pages');
});

async function chat() {
  const { child, url } = await startServer();
  servers.push(child);
  return { child, url };
}

test('on a phone the user list opens in a drawer and nothing overflows', async () => {
  const { child, url } = await chat();
  await joinedPage(browser, url, 'Ada', { errors: pageErrors });
  const grace = await joinedPage(browser, url, 'Grace', { errors: pageErrors });
  const phone = await openChat(browser, url, { device: PHONE, errors: pageErrors });
  await assertNoHorizontalOverflow(phone, 'the join form');
  await submitJoin(phone, 'Linus');
  await phone.locator('.notice.welcome').waitFor();
  await assertNoHorizontalOverflow(phone, 'joined');
  assert.equal(await assertPlaceholderFits(phone, 'joined'), 'Message #lobby');

  // The list is behind a button that shows how many are here.
  const people = phone.locator('#people');
  assert.ok(!(await people.isVisible()), 'the list starts closed');
  const toggle = phone.locator('#people-toggle');
  assert.equal(await phone.locator('#people-count').textContent(), '3');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await toggle.click();
  await people.waitFor();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.deepEqual(await userNames(phone), ['Ada', 'Grace', 'Linus']);
  const box = await people.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390 && box.width >= 200, `the drawer fits: ${JSON.stringify(box)}`);
  await assertNoHorizontalOverflow(phone, 'the list open');
  await shot(phone, '10-phone-people');

  // It closes with its button, with Escape, and with a tap beside it.
  await phone.locator('#people-close').click();
  await people.waitFor({ state: 'hidden' });
  await toggle.click();
  await people.waitFor();
  await phone.keyboard.press('Escape');
  await people.waitFor({ state: 'hidden' });
  await toggle.click();
  await people.waitFor();
  await phone.mouse.click(20, 400);
  await people.waitFor({ state: 'hidden' });

  // Long words and a long name do not widen the page.
  await grace.locator('#text').fill(`https://example.com/${'a'.repeat(300)}`);
  await grace.locator('#text').press('Enter');
  await phone.locator('.msg .body', { hasText: 'example.com' }).waitFor();
  await assertNoHorizontalOverflow(phone, 'a long word');
  await shot(phone, '11-phone-chat');

  // Off line: the status, the placeholder and the list still fit, and the list says it is old.
  await stopServer(child);
  await phone.waitForFunction(() => document.getElementById('status').dataset.state === 'waiting');
  await assertNoHorizontalOverflow(phone, 'offline');
  assert.match(await assertPlaceholderFits(phone, 'offline'), /reconnecting/i);
  assert.ok(await phone.locator('#people-toggle.stale').isVisible(), 'the button marks the list as stale');
  await toggle.click();
  assert.equal(await phone.locator('#people-label').textContent(), 'Offline · last seen');
  await assertNoHorizontalOverflow(phone, 'offline, list open');
  await shot(phone, '12-phone-offline');
});

test('a refused message stays in the input with the error; an accepted one clears it', async () => {
  const { url } = await chat();
  const ada = await joinedPage(browser, url, 'Ada', { errors: pageErrors });
  const input = ada.locator('#text');
  const note = ada.locator('#composer-note');

  await input.fill('<b>bold?</b>');
  await input.press('Enter');
  await note.filter({ hasText: 'Not sent: messages are plain text: HTML tags are not allowed.' }).waitFor();
  assert.equal(await input.inputValue(), '<b>bold?</b>', 'the draft is kept');
  assert.equal(await ada.locator('.msg').count(), 0);
  await shot(ada, '20-refused');

  // Editing the draft clears the error; the accepted message clears the input.
  await input.fill('bold?');
  assert.equal(await note.textContent(), '');
  await input.press('Enter');
  await ada.locator('.msg.mine .body', { hasText: 'bold?' }).waitFor();
  await ada.waitForFunction(() => document.getElementById('text').value === '');
  assert.equal(await note.textContent(), '');
});

test('the join form shows only the answer to the last submit', async () => {
  const { url } = await chat();
  const page = await openChat(browser, url, { errors: pageErrors });
  const error = page.locator('#join-error');

  await submitJoin(page, '<script>');
  await error.filter({ hasText: 'Nicknames cannot hold < or >.' }).waitFor();
  await submitJoin(page, '   ');
  assert.equal(await error.textContent(), 'Choose a nickname.');
  await page.fill('#nick', 'Ad');
  assert.equal(await error.textContent(), '', 'typing clears the message');
  await page.fill('#room', 'no spaces');
  await page.click('#join-button');
  assert.equal(await error.textContent(), 'Room names are 1 to 32 letters, digits, - or _.');
  await page.fill('#room', 'lobby');
  await submitJoin(page, 'Ada');
  await page.locator('#join').waitFor({ state: 'hidden' });
  assert.equal(await error.textContent(), '');
});

test('close notices say what is known: lost, closed with a reason, or restarting (1012)', async () => {
  const { child, url } = await chat();
  // A server that simply stops sends no Close: the connection is lost.
  const ada = await joinedPage(browser, url, 'Ada', { errors: pageErrors });
  await stopServer(child, 'SIGKILL');
  await noticeShown(ada, 'The connection to the server was lost; reconnecting…');
  assert.ok(!(await notices(ada)).some((n) => /restarting/i.test(n)), 'no restart is claimed');

  // Only a 1012 says the server is restarting. The server never sends one: Playwright stands
  // in for it between the page and a real server.
  const second = await chat();
  const routes = [];
  const grace = await openChat(browser, second.url, {
    errors: pageErrors,
    prepare: (page) => page.routeWebSocket(/\/ws$/, (ws) => {
      ws.connectToServer();
      routes.push(ws);
    }),
  });
  await submitJoin(grace, 'Grace');
  await grace.locator('.notice.welcome').waitFor();
  await routes[0].close({ code: 1012, reason: 'service restart' });
  await noticeShown(grace, 'The server is restarting; reconnecting…');
  await noticeShown(grace, 'Reconnected.');
  assert.equal(routes.length, 2);
});
