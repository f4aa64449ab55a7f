import test from 'ava';
import { redactUrl } from '../../src/log.ts';

test('a reset token in the query is replaced by REDACTED', (t) => {
  t.is(redactUrl('/user/pam/password/?pwd_reset_token=abc.def.ghi'), '/user/pam/password/?pwd_reset_token=REDACTED');
});

test('a URL without a query is left as it is', (t) => {
  t.is(redactUrl('/user/'), '/user/');
});

test('other parameters are kept', (t) => {
  t.is(redactUrl('/x?lang=pt-BR&token=secret'), '/x?lang=pt-BR&token=REDACTED');
});
