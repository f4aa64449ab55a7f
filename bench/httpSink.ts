/**
 * An endpoint for the `http` e-mail transport that takes everything, in its own process: the
 * reference receiver of docs/examples/emailReceiver.ts, so every signature is checked as a real
 * receiver would. Prints its port, then counts.
 */
import process from 'node:process';
import { createReceiver } from '../docs/examples/emailReceiver.ts';

const secret = process.env.DUNDIE_EMAIL__HTTP_SECRET;
if (!secret) throw new Error('set DUNDIE_EMAIL__HTTP_SECRET');
let received = 0;
const server = createReceiver(secret, () => {
  received++;
  return { status: 202 };
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
});
process.on('message', () => process.send?.({ received }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
