// A real reverse proxy for the browser tests: Debian's nginx, started on a free loopback port
// with a generated configuration in a temporary directory of its own (pid, logs, temporary
// files; no system service), passing plain HTTP to the chat and NOT the WebSocket upgrade, as
// a proxy that strips `Upgrade` and `Connection` does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until, WAIT } from './support.mjs';

const NGINX = process.env.NGINX || '/usr/sbin/nginx';

/** A free loopback port (the kernel's pick, released for nginx to bind). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The configuration: HTTP/1.0 to the chat (nginx's default) and no `Upgrade`/`Connection`
 * headers passed, so a WebSocket handshake reaches the chat as a plain GET. `Host` is kept
 * as the browser sent it, as docs/scale-out.md says a proxy must (the `Origin` check).
 */
function config(dir, port, upstream) {
  const user = process.getuid && process.getuid() === 0 ? 'user root root;' : '';
  return `${user}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_set_header Host $http_host;
      proxy_read_timeout 60s;
    }
  }
}
`;
}

/**
 * Starts nginx in front of `upstream` (http://HOST:PORT); resolves when it answers the
 * chat's /healthz through itself. `stop()` ends it and removes its directory.
 */
export async function startProxy(upstream) {
  const dir = mkdtempSync(join(tmpdir(), 'fullduplex-nginx-'));
  const port = await freePort();
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config(dir, port, upstream));
  const child = spawn(NGINX, ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => { child.on('exit', resolve); });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(async () => {
      assert.equal(child.exitCode, null, `nginx exited: ${stderr}`);
      const answer = await fetch(`${url}/healthz`).catch(() => null);
      return answer !== null && answer.status === 200;
    }, 'nginx answers /healthz through itself', WAIT);
  } catch (error) {
    let log = '';
    try { log = readFileSync(join(dir, 'error.log'), 'utf8'); } catch (_) { /* none yet */ }
    await stop();
    throw new Error(`${error.message}\n${stderr}\n${log}`);
  }
  return { url, stop };
}
