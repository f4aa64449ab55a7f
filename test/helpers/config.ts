/** Settings for a test: the service's own loader, fed an explicit environment. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Settings } from '../../src/config.ts';

export const TEST_SECRET = 'test-secret-key-that-is-long-enough-0123456789';

export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Settings {
  const dir = mkdtempSync(path.join(tmpdir(), 'dundie-cfg-'));
  return loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    // A free port each: parallel test files must not meet on 9464.
    DUNDIE_METRICS__PORT: '0',
    DUNDIE_DATA_DIR: dir,
    DUNDIE_SECURITY__SECRET_KEY: TEST_SECRET,
    DUNDIE_EMAIL__LOG_FILE: path.join(dir, 'email.log'),
    DUNDIE_LOG__LEVEL: 'silent',
    // Limits and throttles are off unless a test is about them (test/auth/loginLimits.test.ts,
    // test/http/limitPerClient.test.ts, test/users/resetCooldown.test.ts).
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '0',
    DUNDIE_SECURITY__RATE_LIMIT_LOGIN_PER_MINUTE: '0',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_USERNAME: '0',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '0',
    DUNDIE_SECURITY__LOGIN_FAILURE_DELAY_MS: '0',
    // Tests fire many logins at once on a shared machine; the hash queue is the subject of one test only.
    DUNDIE_SECURITY__HASH_QUEUE: '1000',
    DUNDIE_SECURITY__HASH_QUEUE_PER_CLIENT: '1000',
    DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '0',
    ...env,
  });
}
