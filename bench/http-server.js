// bench/http-server.js PORT SIZE: an HTTP/1.1 server on 127.0.0.1:PORT
// answering every request with SIZE bytes, for bench/server-proc.py (issue
// 18, item 2): node's own http module, as a user's server has it. Exits 0
// on SIGTERM.
'use strict';
const http = require('http');
const body = Buffer.alloc(Number(process.argv[3]), 'x');
const server = http.createServer((req, res) => {
  res.writeHead(200, {'Content-Length': body.length});
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
