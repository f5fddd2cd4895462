// Rate limits as the page meets them, in headless Chromium: a burst of messages is slowed,
// not disconnected, and a page closed for flooding (1008) waits before it comes back. Each
// test runs its own server with the default limits. Run through tests/browser/run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, startServer, stopServer, openChat, submitJoin, joinedPage, shot, status,
  noticeShown, watchSockets, until, WAIT,
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
  return url;
}

test('40 quick messages from the page are slowed down, not disconnected', async () => {
  const url = await chat();
  let watch;
  const ada = await joinedPage(browser, url, 'Ada', {
    errors: pageErrors,
    prepare: (page) => { watch = watchSockets(page); },
  });
  const me = watch.received.find((m) => m.type === 'welcome').you.id;

  // As a fast typist would: each message typed (an input event) and sent, 40 times at once.
  await ada.evaluate(() => {
    const input = document.getElementById('text');
    const form = document.getElementById('composer');
    for (let n = 0; n < 40; n += 1) {
      input.value = `quick ${n}`;
      input.dispatchEvent(new Event('input'));
      form.requestSubmit();
    }
  });
  // Every message is answered, in order: its copy or an error.
  const answers = () => watch.received.filter((m) => (m.type === 'message' && m.from.id === me) || m.type === 'error');
  await until(() => answers().length === 40, 'an answer to each of the 40 messages');

  answers().forEach((answer, n) => {
    if (answer.type === 'message') assert.equal(answer.text, `quick ${n}`, 'answers come in order');
  });
  const passed = answers().filter((m) => m.type === 'message');
  const errors = answers().filter((m) => m.type === 'error');
  // The burst is 20 and the join took one: the first 19 pass, then about one in ten refills.
  assert.ok(answers().slice(0, 19).every((m) => m.type === 'message'), 'the burst passes');
  assert.ok(errors.length >= 10, `${errors.length} refused`);
  for (const error of errors) {
    assert.equal(error.code, 'rate_limited');
    assert.ok(error.retry_after_ms > 0 && error.retry_after_ms <= 100, `retry after ${error.retry_after_ms} ms`);
  }
  // Typing notices are throttled by the page, not sent with every message.
  assert.ok(watch.sent.filter((m) => m.type === 'typing').length <= 1, 'at most one typing notice');

  // The page stays connected and says why the last draft is still there.
  assert.equal(watch.sockets.length, 1, 'no reconnection');
  assert.ok(!watch.sockets[0].isClosed(), 'the connection is open');
  assert.equal(await status(ada), 'online');
  await ada.locator('#composer-note', { hasText: 'Sending too fast' }).waitFor();
  assert.equal(await ada.locator('#text').inputValue(), 'quick 39');
  await shot(ada, '30-rate-limited');

  // Once the wait is over the draft goes through: Enter until the page sends it (before
  // then it only repeats how long to wait).
  const sent = () => ada.locator('.msg.mine .body', { hasText: /^quick 39$/ }).count();
  await until(async () => {
    if ((await sent()) === 0) await ada.locator('#text').press('Enter');
    return (await sent()) === 1;
  }, 'the refused draft sent again');
  await ada.waitForFunction(() => document.getElementById('text').value === '');
  assert.equal(watch.sockets.length, 1, 'still no reconnection');
});

test('after a 1008 close the page waits at least 5 s before reconnecting, and says so', async () => {
  const url = await chat();
  // Playwright stands between the page and the server, to flood the server in the page's
  // name and to time the close and the next connection.
  const sockets = [];
  let closed = null;
  const ada = await openChat(browser, url, {
    errors: pageErrors,
    prepare: (page) => page.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      server.onClose((code, reason) => {
        closed = closed || { code, at: Date.now() };
        ws.close({ code, reason });
      });
      sockets.push({ server, at: Date.now() });
    }),
  });
  await submitJoin(ada, 'Ada');
  await ada.locator('.notice.welcome').waitFor();

  // Typing notices far past their budget: the server closes with 1008.
  for (let n = 0; n < 200; n += 1) sockets[0].server.send('{"type":"typing"}');
  await until(() => closed !== null, 'the server closes the flood');
  assert.equal(closed.code, 1008);
  await noticeShown(ada, /The server closed the connection: rate limit exceeded\. Reconnecting in [56] s\./);
  await ada.locator('#status-text', { hasText: /Offline — retrying in [1-6] s/ }).waitFor();
  assert.equal(await status(ada), 'backoff');
  await shot(ada, '31-policy-close');

  // Clicking the status does not cut the wait short.
  await ada.click('#status');
  await until(() => sockets.length === 2, 'a reconnection', 15_000);
  const gap = sockets[1].at - closed.at;
  assert.ok(gap >= 5000 && gap <= 5000 * 1.2 + 1000, `reconnected after ${gap} ms`);
  await noticeShown(ada, 'Reconnected.', WAIT);
  await ada.waitForFunction(() => document.getElementById('status').dataset.state === 'online');
});
