import { parseAllDocuments } from 'yaml'
import { z } from 'zod'
import { ErrorCode, FraudstreamError } from '../core/errors.js'

/**
 * Rule v1, the record of the compacted `<group>.rules` topic (key = id) and of a rule file:
 *
 * ```yaml
 * id: high-amount-abroad          # letters, digits, . _ - ; the topic key
 * description: large card-not-present payments abroad go to an analyst
 * priority: 10                    # lower runs first; the first rule that forces a decision wins
 * stage: post                     # pre: before the model (a decision skips inference); post (default): after it
 * when:
 *   all:
 *     - { field: amount, op: '>=', value: 1000 }
 *     - { field: feature.is_abroad, op: '==', value: 1 }
 *     - { field: channel, in: [ecom, moto] }
 * then: { decision: review, reason: high_amount_abroad }
 * ```
 *
 * A condition is a comparison (`field` `op` `value`), a value list (`in` / `not_in`), a list lookup (`in_list:
 * allow | block | watch`, on the list kind the field names) or `all` / `any` / `not` of conditions. Fields are
 * Transaction v1 fields, `feature.<name>` of the feature set, and `score` (post-model rules only).
 */
export interface RuleV1 {
  readonly id: string
  readonly description?: string | undefined
  readonly priority: number
  readonly stage: RuleStage
  readonly enabled: boolean
  readonly when: Condition
  readonly then: RuleAction
}

export const RuleStage = { pre: 'pre', post: 'post' } as const
export type RuleStage = (typeof RuleStage)[keyof typeof RuleStage]

export const ComparisonOp = ['==', '!=', '<', '<=', '>', '>='] as const
export type ComparisonOp = (typeof ComparisonOp)[number]

/** The lists a rule can look a value up in; allow and block also force a decision on their own (see ListEntryV1). */
export const ListName = ['allow', 'block', 'watch'] as const
export type ListName = (typeof ListName)[number]

export type Scalar = string | number | boolean

export type Condition =
  | { readonly field: string; readonly op: ComparisonOp; readonly value: Scalar }
  | { readonly field: string; readonly in: readonly (string | number)[] }
  | { readonly field: string; readonly not_in: readonly (string | number)[] }
  | { readonly field: string; readonly in_list: ListName }
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  | { readonly not: Condition }

export interface RuleAction {
  readonly decision?: 'approve' | 'review' | 'decline' | undefined
  /** A reason code added to the decision's `reasons` when the rule fires. */
  readonly reason?: string | undefined
  /** Moves the decision one band: approve → review → decline (raise) or back (lower). */
  readonly band?: 'raise' | 'lower' | undefined
}

const field = z.string().min(1).max(128)
const valueList = z
  .array(z.union([z.string(), z.number()]))
  .min(1)
  .max(10_000)

// Strict objects: a misspelt key (`values:`, `fields:`) is an error, not a condition that silently matches nothing.
export const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({ field, op: z.enum(ComparisonOp), value: z.union([z.string(), z.number(), z.boolean()]) }),
    z.strictObject({ field, in: valueList }),
    z.strictObject({ field, not_in: valueList }),
    z.strictObject({ field, in_list: z.enum(ListName) }),
    z.strictObject({ all: z.array(ConditionSchema).min(1) }),
    z.strictObject({ any: z.array(ConditionSchema).min(1) }),
    z.strictObject({ not: ConditionSchema }),
  ]),
)

export const RuleV1Schema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
      'id: 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit',
    ),
  description: z.string().max(1_000).optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  stage: z.enum(['pre', 'post']).default('post'),
  enabled: z.boolean().default(true),
  when: ConditionSchema,
  then: z
    .strictObject({
      decision: z.enum(['approve', 'review', 'decline']).optional(),
      reason: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_:.-]{0,63}$/, 'reason: a code of lower-case letters, digits, "_", ":", "." or "-"')
        .optional(),
      band: z.enum(['raise', 'lower']).optional(),
    })
    .refine((a) => a.decision !== undefined || a.reason !== undefined || a.band !== undefined, {
      message: 'then needs a decision, a reason or a band',
    })
    .refine((a) => a.decision === undefined || a.band === undefined, {
      message: 'a decision and a band exclude each other (a forced decision has no band to move)',
    }),
})

/** A raw value as Rule v1, or FS_ERR_RULE_INVALID listing every issue with its path. */
export function validateRule(raw: unknown, source = 'rule'): RuleV1 {
  const parsed = RuleV1Schema.safeParse(raw)
  if (parsed.success) return parsed.data as RuleV1
  throw new FraudstreamError(ErrorCode.ruleInvalid, `${source} is not a valid rule: ${issuesOf(parsed.error)}`, 'input')
}

/**
 * The rules of a file's text, YAML or JSON (JSON is YAML): one rule, a list of rules, `{ rules: [...] }`, or several
 * YAML documents. Each is validated; the first invalid one throws with its position.
 */
export function parseRules(text: string, source = 'rules'): RuleV1[] {
  const docs = parseAllDocuments(text)
  if (!Array.isArray(docs))
    throw new FraudstreamError(ErrorCode.ruleInvalid, `${source} holds no YAML or JSON document`, 'input')
  const raws: unknown[] = []
  for (const doc of docs) {
    if (doc.errors.length > 0)
      throw new FraudstreamError(
        ErrorCode.ruleInvalid,
        `${source} does not parse as YAML or JSON: ${doc.errors[0]!.message}`,
        'input',
      )
    const value: unknown = doc.toJS()
    if (value === null || value === undefined) continue
    if (Array.isArray(value)) raws.push(...value)
    else if (typeof value === 'object' && 'rules' in value && Array.isArray((value as { rules: unknown }).rules))
      raws.push(...(value as { rules: unknown[] }).rules)
    else raws.push(value)
  }
  if (raws.length === 0) throw new FraudstreamError(ErrorCode.ruleInvalid, `${source} holds no rule`, 'input')
  const rules = raws.map((raw, i) => validateRule(raw, raws.length > 1 ? `${source} (rule ${i + 1})` : source))
  const ids = rules.map((r) => r.id)
  const twice = ids.find((id, i) => ids.indexOf(id) !== i)
  if (twice !== undefined)
    throw new FraudstreamError(ErrorCode.ruleInvalid, `${source} defines rule ${twice} twice`, 'input')
  return rules
}

/** Every zod issue as `path: message`, joined; a union's issue reports its closest branch's. */
export function issuesOf(error: z.ZodError): string {
  return flatIssues(error).join('; ')
}

function flatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.')
    if (issue.code === 'invalid_union') {
      // Name the branch that got furthest (most of its keys matched): its issues are the useful ones.
      const branches = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? []
      const best = branches.reduce<z.core.$ZodIssue[] | undefined>(
        (a, b) => (a === undefined || deepest(b) > deepest(a) ? b : a),
        undefined,
      )
      if (best && deepest(best) > 0 && !best.some((i) => i.code === 'unrecognized_keys'))
        return best
          .map((i) => `${[...issue.path, ...i.path].map(String).join('.') || '(rule)'}: ${i.message}`)
          .join('; ')
      return `${path || '(rule)'}: not a condition; write { field, op, value }, { field, in | not_in: [...] }, { field, in_list: allow|block|watch }, { all | any: [...] } or { not: ... }`
    }
    return `${path || '(rule)'}: ${issue.message}`
  })
}

function deepest(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length))
}
