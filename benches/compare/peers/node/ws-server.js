// Node `ws` echo and broadcast servers for the side-by-side comparison.
// Usage: node ws-server.js echo|broadcast PORT [deflate]
// - echo: every message is sent back with its opcode;
// - broadcast: every message is relayed, with its opcode, to every client, the sender included;
// - deflate: permessage-deflate offered with the library's defaults except `threshold: 0`
//   (by default ws leaves messages under 1 KiB uncompressed).
'use strict';
const { WebSocketServer } = require('ws');

const [mode, portText, deflate] = process.argv.slice(2);
const port = Number(portText);
if (!['echo', 'broadcast'].includes(mode) || !port) {
  console.error('usage: node ws-server.js echo|broadcast PORT [deflate]');
  process.exit(2);
}
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 64 << 20,
  perMessageDeflate: deflate === 'deflate' ? { threshold: 0 } : false,
});
wss.on('connection', (ws) => {
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) client.send(data, { binary: isBinary });
    });
  }
});
wss.on('listening', () => console.error(`ws ${mode} listening on 127.0.0.1:${port}`));
