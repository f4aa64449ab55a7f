/**
 * The HTTP limit: a bare `node:http` server answering POST /user/pwd_reset_token/ with the same
 * JSON as Dundie (the body read and parsed, nothing stored). Prints its port, then serves.
 */
import { createServer } from 'node:http';
import process from 'node:process';

const answer = JSON.stringify({ message: 'If we found a user with that email, we sent a password reset token to it.' });

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    let email: unknown;
    try {
      email = JSON.parse(body).email;
    } catch {
      email = undefined;
    }
    if (req.method !== 'POST' || req.url !== '/user/pwd_reset_token/' || typeof email !== 'string') {
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"detail":"bad request"}');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(answer),
      })
      .end(answer);
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
