import test from 'ava';
import jwt from 'jsonwebtoken';
import { InvalidToken, verifyToken } from '../../../src/auth/tokens.ts';
import { loadConfig } from '../../../src/config.ts';
import { TEST_SECRET } from '../../helpers/config.ts';

const security = loadConfig({ DUNDIE_SECURITY__SECRET_KEY: TEST_SECRET, DATABASE_URL: 'postgres://x/y' }).security;
const now = () => Math.floor(Date.now() / 1000);

test('tokens without exp are refused, whatever their scope', (t) => {
  for (const scope of ['access_token', 'refresh_token', 'pwd_reset'] as const) {
    const token = jwt.sign({ sub: 'mscott', scope, fresh: true }, TEST_SECRET, { algorithm: 'HS256' });
    t.throws(() => verifyToken(security, token, scope), { instanceOf: InvalidToken }, scope);
  }
});

test('tokens without iat are refused', (t) => {
  const token = jwt.sign({ sub: 'mscott', scope: 'access_token', exp: now() + 600 }, TEST_SECRET, {
    algorithm: 'HS256',
    noTimestamp: true,
  });
  t.throws(() => verifyToken(security, token, 'access_token'), { instanceOf: InvalidToken });
  const good = jwt.sign({ sub: 'mscott', scope: 'access_token', exp: now() + 600 }, TEST_SECRET, {
    algorithm: 'HS256',
  });
  t.is(verifyToken(security, good, 'access_token').sub, 'mscott');
});
