// uWebSockets.js (the npm build @trufflesuite/uws-js-unofficial, its prebuilt native binary
// loaded directly so that no JavaScript fallback can stand in for it) echo and broadcast servers.
// Usage: node uws-server.js echo|broadcast PORT [deflate]
// - echo: every message is sent back with its opcode;
// - broadcast: every client subscribes to one topic and every message is published to it with
//   `app.publish` (the sender included), with its opcode;
// - deflate: permessage-deflate with SHARED_COMPRESSOR (uWS's low-memory choice: no context
//   takeover on the server side).
'use strict';
const path = require('path');

const binary = path.join(
  __dirname, 'node_modules', '@trufflesuite', 'uws-js-unofficial', 'binaries',
  `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
const uWS = require(binary);

const [mode, portText, deflate] = process.argv.slice(2);
const port = Number(portText);
if (!['echo', 'broadcast'].includes(mode) || !port) {
  console.error('usage: node uws-server.js echo|broadcast PORT [deflate]');
  process.exit(2);
}
const app = uWS.App();
app.ws('/*', {
  compression: deflate === 'deflate' ? uWS.SHARED_COMPRESSOR : uWS.DISABLED,
  maxPayloadLength: 64 << 20,
  maxBackpressure: 256 << 20,
  idleTimeout: 0,
  open: (ws) => {
    if (mode === 'broadcast') ws.subscribe('all');
  },
  message: (ws, message, isBinary) => {
    if (mode === 'echo') {
      ws.send(message, isBinary, true);
    } else {
      app.publish('all', message, isBinary, true);
    }
  },
});
app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uWebSockets.js could not listen on ${port}`);
    process.exit(1);
  }
  console.error(`uWebSockets.js ${mode} listening on 127.0.0.1:${port}`);
});
