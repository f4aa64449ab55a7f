/** An SMTP server that accepts everything, in its own process; prints its port, then counts. */
import process from 'node:process';
import { SMTPServer } from 'smtp-server';

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  disableReverseLookup: true,
  logger: false,
  size: 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => {
      received++;
      callback();
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.server.address() as { port: number }).port }));
});
process.on('message', () => process.send?.({ received }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
