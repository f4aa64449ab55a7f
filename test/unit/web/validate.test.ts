import test from 'ava';
import { NewUser } from '../../../src/http/schemas.ts';
import { HttpError } from '../../../src/web/httpError.ts';
import { ResetRequest } from '../../../src/web/schemas.ts';
import { validate } from '../../../src/web/validate.ts';

function issues(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError && err.status === 422) return err.detail;
    throw err;
  }
  throw new Error('validated');
}

test('a missing field is "Field required", type missing, as FastAPI says it', (t) => {
  t.deepEqual(
    issues(() => validate(ResetRequest, {})),
    [{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }],
  );
});

test('a value of the wrong type is string_type', (t) => {
  t.deepEqual(
    issues(() => validate(ResetRequest, { email: 42 })),
    [{ loc: ['body', 'email'], msg: 'Input should be a valid string', type: 'string_type' }],
  );
});

test('a body that is not an object is model_attributes_type at loc body', (t) => {
  t.deepEqual(
    issues(() => validate(ResetRequest, ['a@dm.com'])),
    [{ loc: ['body'], msg: 'Input should be a valid object', type: 'model_attributes_type' }],
  );
});

test('lengths are string_too_short and string_too_long', (t) => {
  const base = { name: 'N', email: 'n@dm.com', dept: 'sales', password: 'long-enough-pw' };
  t.deepEqual(
    issues(() => validate(NewUser, { ...base, currency: 'US' })),
    [{ loc: ['body', 'currency'], msg: 'String should have at least 3 characters', type: 'string_too_short' }],
  );
  t.deepEqual(
    issues(() => validate(NewUser, { ...base, name: 'x'.repeat(201) })),
    [{ loc: ['body', 'name'], msg: 'String should have at most 200 characters', type: 'string_too_long' }],
  );
});

test('each field is reported once, in the schema order', (t) => {
  const found = issues(() => validate(NewUser, { email: 'a\u0000' })) as { loc: unknown[] }[];
  t.deepEqual(
    found.map((i) => i.loc[1]),
    ['name', 'email', 'dept', 'password'],
  );
});

test('control characters and CR/LF are refused where they could reach a header', (t) => {
  const [issue] = issues(() => validate(ResetRequest, { email: 'a@dm.com\r\nBcc: x@dm.com' })) as { type: string }[];
  t.is(issue!.type, 'value_error');
});

test('a lone UTF-16 surrogate is a 422, not a value for the database to refuse', (t) => {
  const [issue] = issues(() => validate(ResetRequest, { email: 'a\ud800@dm.com' })) as { type: string; msg: string }[];
  t.is(issue!.type, 'string_unicode');
});

test('a plausible address passes and comes back as sent; extra keys are dropped', (t) => {
  t.deepEqual(validate(ResetRequest, { email: 'Pam.Beesly@DM.com', admin: true }), { email: 'Pam.Beesly@DM.com' });
});

test('an address without a dot in its domain is refused', (t) => {
  const [issue] = issues(() => validate(ResetRequest, { email: 'someone@localhost' })) as { msg: string }[];
  t.is(issue!.msg, 'value is not a valid email address');
});
