/**
 * Validation at the edge: a route gets its body back typed and checked from
 * `validate(Schema, ctx.request.body)`. Failures answer 422 in FastAPI's shape, which clients of
 * the first Dundie match on: `{"detail": [{"loc": ["body", "email"], "msg": "...", "type": "..."}]}`.
 */
import type { z } from 'zod';
import { validationFailed, type ValidationIssue } from './httpError.ts';

type ZodIssue = z.core.$ZodIssue;

/** A zod issue in FastAPI's words (pydantic's messages and types). */
export function toValidationIssue(issue: ZodIssue, where: 'body' | 'query' = 'body'): ValidationIssue {
  const loc = [where, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  switch (issue.code) {
    case 'invalid_type':
      if (issue.path.length === 0) return { loc, msg: 'Input should be a valid object', type: 'model_attributes_type' };
      if (issue.input === undefined) return { loc, msg: 'Field required', type: 'missing' };
      return { loc, msg: `Input should be a valid ${issue.expected}`, type: `${issue.expected}_type` };
    case 'too_small': {
      const n = Number(issue.minimum);
      return { loc, msg: `String should have at least ${n} character${n === 1 ? '' : 's'}`, type: 'string_too_short' };
    }
    case 'too_big':
      return { loc, msg: `String should have at most ${Number(issue.maximum)} characters`, type: 'string_too_long' };
    default: {
      const type = (issue as { params?: { type?: unknown } }).params?.type;
      return { loc, msg: issue.message, type: typeof type === 'string' ? type : 'value_error' };
    }
  }
}

/** The first issue of each field, in the schema's order, as FastAPI reports them. */
export function validationIssues(issues: readonly ZodIssue[], where: 'body' | 'query' = 'body'): ValidationIssue[] {
  const seen = new Set<string>();
  return issues
    .map((issue) => toValidationIssue(issue, where))
    .filter((i) => {
      const key = i.loc.join('\u0000');
      return !seen.has(key) && Boolean(seen.add(key));
    });
}

/** `where`: what the issues' `loc` names, the body (by default) or the query string. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' = 'body',
): z.output<S> {
  // Parsed without options first: zod's parse with any (here `reportInput`, which the issues'
  // "Field required" reads) cost four times as much, and most requests pass.
  const passed = schema.safeParse(value);
  if (passed.success) return passed.data;
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw validationFailed(validationIssues(result.error.issues, where));
}
