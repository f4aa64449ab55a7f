import test from 'ava';
import jwt from 'jsonwebtoken';
import { redactUrl } from '../../../src/log.ts';

const token = jwt.sign({ sub: 'mscott', scope: 'pwd_reset', pwd: 'x'.repeat(22) }, 'k'.repeat(40), { expiresIn: 600 });

test('tokens in logs: any JWT-shaped value anywhere in a logged URL is redacted', (t) => {
  const spellings = [
    `/user/mscott/password/?PWD_RESET_TOKEN=${token}`,
    `/user/mscott/password/?pwd_reset_token[]=${token}`,
    `/user/mscott/password/?pwd_reset_token%5B%5D=${token}`,
    `/user/mscott/password/?x=1&anything=${token}`,
    `/user/mscott/password/?x=${encodeURIComponent(token).replace(/\./g, '%2E')}`,
    `/user/${token}/password/`,
    `/reset_password?pwd_reset_token=${token}&pwd_reset_token=${token}`,
  ];
  for (const url of spellings) {
    const logged = redactUrl(url);
    t.false(logged.includes(token.split('.')[2]!), logged);
    t.false(logged.includes(token.split('.')[1]!), logged);
    t.true(logged.includes('REDACTED'), logged);
  }
});

test('secret parameters are redacted in any case and qs spelling, others kept as sent', (t) => {
  t.is(redactUrl('/a?x=1&Pwd_Reset_Token=short&y=%20'), '/a?x=1&Pwd_Reset_Token=REDACTED&y=%20');
  t.is(redactUrl('/a?password[0]=hunter2'), '/a?password[0]=REDACTED');
  t.is(redactUrl('/plain'), '/plain');
});
