import test from 'ava';
import { PolicyViolation } from '../../../src/errors.ts';
import { assertPasswordAllowed, passwordProblem } from '../../../src/users/passwordPolicy.ts';

test('a password of 8 to 128 characters that is not common passes', (t) => {
  t.is(passwordProblem('thats-what-she-said'), undefined);
  t.is(passwordProblem('x'.repeat(7) + 'Q'), undefined);
});

test('length is counted in characters, not UTF-16 units', (t) => {
  t.is(passwordProblem('🔑🔑🔑🔑🔑🔑🔑'), 'Password must be at least 8 characters long');
  t.is(passwordProblem('🔑'.repeat(8)), undefined);
});

test('too short, too long, the username, the e-mail or its local part, and common passwords are refused', (t) => {
  t.regex(passwordProblem('short')!, /at least 8/);
  t.regex(passwordProblem('x'.repeat(129))!, /at most 128/);
  t.regex(passwordProblem('Michael-Scott', { username: 'michael-scott' })!, /username/);
  t.regex(passwordProblem('mscott@dm.com', { email: 'MScott@dm.com' })!, /e-mail/);
  t.regex(passwordProblem('mscott12', { email: 'mscott12@dm.com' })!, /e-mail/);
  t.regex(passwordProblem('QwertyUiop')!, /too common/);
});

test('a refusal is a PolicyViolation naming the password field, not an HTTP error', (t) => {
  const err = t.throws(() => assertPasswordAllowed('short'), { instanceOf: PolicyViolation });
  t.is(err.field, 'password');
});

test('a common word lengthened with digits or symbols, a company word, or blanks count as common', (t) => {
  for (const password of ['password123', 'dragon!!!', '2024monkey', 'dundermifflin', 'DunderMifflin1', '        ']) {
    t.regex(passwordProblem(password) ?? '', /too common/, password);
  }
  t.is(passwordProblem('dragon-fruit-salad'), undefined, 'a listed word inside a longer phrase is fine');
});
