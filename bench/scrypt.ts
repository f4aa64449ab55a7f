/**
 * What one core does: password hashes (scrypt N=2^15, r=8, the service's parameters) per second,
 * one at a time on one thread, for `--seconds` (default 5). The README's "Security" figure.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { hashPassword, verifyPassword } from '../src/users/passwords.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const stored = await hashPassword('bench-password-1');
const until = performance.now() + Number(values.seconds) * 1000;
let n = 0;
const started = performance.now();
const cpu = process.cpuUsage();
while (performance.now() < until) {
  await verifyPassword('bench-password-1', stored);
  n++;
}
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
// CPU time too: on a shared machine the wall clock includes other processes' turns.
const cpuSeconds = (used.user + used.system) / 1e6;
console.log(
  `scrypt verifications, one at a time: ${n} in ${seconds.toFixed(1)} s wall = ${(n / seconds).toFixed(1)}/s, ${((seconds / n) * 1000).toFixed(1)} ms each`,
);
console.log(
  `CPU time: ${((cpuSeconds / n) * 1000).toFixed(1)} ms a hash = ${(n / cpuSeconds).toFixed(1)} hashes per core-second`,
);
