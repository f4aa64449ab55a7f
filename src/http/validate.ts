/**
 * Validation at the edge: a route names the fields it takes and gets them back typed and
 * checked from `validate(shape, ctx.request.body)`. Failures answer 422 with FastAPI's shape,
 * `{"detail": [{"loc": ["body", "email"], "msg": "...", "type": "..."}]}`.
 */
import { validationFailed, type ValidationIssue } from './httpError.ts';

type Outcome<T> = { ok: true; value: T } | { ok: false; msg: string; type: string };
/** Checks one value; `undefined` means the field was absent. */
export type Check<T> = (value: unknown) => Outcome<T>;
export type Shape = Record<string, Check<unknown>>;
export type Input<S extends Shape> = { [K in keyof S]: S[K] extends Check<infer T> ? T : never };

const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const fail = (msg: string, type: string): Outcome<never> => ({ ok: false, msg, type });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function codePoints(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++, n++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return n;
}

export function text({ min = 1, max = 1000, controls = false } = {}): Check<string> {
  return (value) => {
    if (value === undefined) return fail('Field required', 'missing');
    if (typeof value !== 'string') return fail('Input should be a valid string', 'string_type');
    // Characters (code points), counted without building an array of them: a 100 kB junk value
    // made a 100,000-element array per field (issue 14, item 8). Past 2×max code units it is too long.
    const length = value.length > 2 * max ? value.length : codePoints(value);
    if (length < min) return fail(`String should have at least ${min} character${min === 1 ? '' : 's'}`, 'string_too_short');
    if (length > max) return fail(`String should have at most ${max} characters`, 'string_too_long');
    if (!controls && CONTROL.test(value)) return fail('String must not contain control characters', 'value_error');
    return ok(value);
  };
}

/** Absent stays absent (undefined). */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value) => (value === undefined ? ok(undefined) : check(value));
}

/** Like `optional`, and null is kept, so a client can clear a field. */
export function nullable<T>(check: Check<T>): Check<T | undefined | null> {
  return (value) => (value === null ? ok(null) : optional(check)(value));
}

const EMAIL_MAX = 254;
const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/;

/** A plausible address: what an MTA would accept, not a proof that the mailbox exists. */
export function email(): Check<string> {
  const base = text({ max: EMAIL_MAX });
  return (value) => {
    const result = base(value);
    if (!result.ok) return result;
    if (!EMAIL_SHAPE.test(result.value)) return fail('value is not a valid email address', 'value_error');
    return result;
  };
}

export function validate<S extends Shape>(shape: S, value: unknown): Input<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw validationFailed([{ loc: ['body'], msg: 'Input should be a valid object', type: 'model_attributes_type' }]);
  }
  const record = value as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  const input: Record<string, unknown> = {};
  for (const [field, check] of Object.entries(shape)) {
    const result = check(record[field]);
    if (result.ok) input[field] = result.value;
    else issues.push({ loc: ['body', field], msg: result.msg, type: result.type });
  }
  if (issues.length > 0) throw validationFailed(issues);
  return input as Input<S>;
}
