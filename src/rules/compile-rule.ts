import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import type { ListIndex } from './list-index.js'
import { listKindOfField } from './list-entry.js'
import type { ComparisonOp, Condition, RuleAction, RuleStage, RuleV1, Scalar } from './rule-v1.js'

/** What a compiled condition reads: the transaction, its feature row (row `at` of `rows`), the score, the time. */
export interface RuleInput {
  readonly tx: Transaction
  readonly rows: Float32Array
  readonly at: number
  /** The deciding model's score; NaN before the model (pre rules cannot name it). */
  readonly score: number
  /** Wall-clock ms: list entries expire in real time. */
  readonly nowMs: number
}

export type Test = (input: RuleInput) => boolean

/** What a rule or condition may name: the feature set's columns, and the lists `in_list` reads. */
export interface CompileEnv {
  readonly featureNames: readonly string[]
  readonly lists: ListIndex
}

export interface CompiledRule {
  readonly id: string
  readonly priority: number
  readonly stage: RuleStage
  /** Reads `score`: skipped when no model scored (a fallback decision). */
  readonly readsScore: boolean
  readonly test: Test
  readonly then: RuleAction
  /** What `rules` lists when it fires. */
  readonly name: string
}

type Kind = 'number' | 'string'

/** The Transaction v1 fields a rule can name, by type; optional ones read as absent when missing. */
const TX_FIELDS: Readonly<Record<string, Kind>> = {
  amount: 'number',
  currency: 'string',
  mcc: 'string',
  country: 'string',
  card_country: 'string',
  channel: 'string',
  entry_mode: 'string',
  card_id: 'string',
  customer_id: 'string',
  merchant_id: 'string',
  terminal_id: 'string',
  device_id: 'string',
  ip: 'string',
}

/** The fields rules can name besides features and `score`, for error messages and the README. */
export const RULE_FIELDS: readonly string[] = Object.keys(TX_FIELDS)

type Getter =
  { kind: 'number'; get: (i: RuleInput) => number } | { kind: 'string'; get: (i: RuleInput) => string | undefined }

/**
 * A rule → a closure over the transaction, features and score, built once when the rule is put or loaded (never
 * interpreted from the tree per transaction). A field, feature or operator the rule cannot use is
 * FS_ERR_RULE_INVALID naming the path and what exists.
 */
export function compileRule(rule: RuleV1, env: CompileEnv): CompiledRule {
  const state = { readsScore: false }
  const test = compileCondition(rule.when, env, { stage: rule.stage, path: `rule ${rule.id}: when`, state })
  return {
    id: rule.id,
    priority: rule.priority,
    stage: rule.stage,
    readsScore: state.readsScore,
    test,
    then: rule.then,
    name: `rule:${rule.id}`,
  }
}

/** A condition alone, as the fallback rules use it (no score before a model answered). */
export function compileCondition(
  condition: Condition,
  env: CompileEnv,
  at: { stage: RuleStage; path: string; state?: { readsScore: boolean } },
): Test {
  const state = at.state ?? { readsScore: false }
  const walk = (c: Condition, path: string): Test => {
    if ('all' in c) {
      const parts = c.all.map((p, i) => walk(p, `${path}.all[${i}]`))
      return parts.length === 1 ? parts[0]! : (i) => parts.every((p) => p(i))
    }
    if ('any' in c) {
      const parts = c.any.map((p, i) => walk(p, `${path}.any[${i}]`))
      return parts.length === 1 ? parts[0]! : (i) => parts.some((p) => p(i))
    }
    if ('not' in c) {
      const inner = walk(c.not, `${path}.not`)
      return (i) => !inner(i)
    }
    const getter = getterOf(c.field, env, at.stage, `${path}.field`, state)
    if ('op' in c) return comparison(getter, c.op, c.value, `${path} (${c.field} ${c.op} ${JSON.stringify(c.value)})`)
    if ('in_list' in c) {
      const kind = listKindOfField(c.field)
      if (!kind)
        fail(
          `${path}: in_list looks up card_id, terminal_id, merchant_id, device_id, ip, country or card_country, not ${c.field}`,
        )
      const { lists } = env
      const list = c.in_list
      const get = getter.get as (i: RuleInput) => string | undefined
      return (i) => lists.has(list, kind, get(i), i.nowMs)
    }
    const values = 'in' in c ? c.in : c.not_in
    const negate = 'not_in' in c
    const set = membership(getter, values, `${path}.${negate ? 'not_in' : 'in'}`)
    return negate ? (i) => !set(i) : set
  }
  return walk(condition, at.path)
}

function getterOf(
  name: string,
  env: CompileEnv,
  stage: RuleStage,
  path: string,
  state: { readsScore: boolean },
): Getter {
  if (name === 'score') {
    if (stage === 'pre') fail(`${path}: score is known only after the model; use stage: post for a rule on the score`)
    state.readsScore = true
    return { kind: 'number', get: (i) => i.score }
  }
  if (name.startsWith('feature.')) {
    const feature = name.slice('feature.'.length)
    const column = env.featureNames.indexOf(feature)
    if (column < 0) fail(`${path}: unknown feature "${feature}"; the feature set has ${env.featureNames.join(', ')}`)
    return { kind: 'number', get: (i) => i.rows[i.at + column]! }
  }
  const kind = TX_FIELDS[name]
  if (!kind) fail(`${path}: unknown field "${name}"; a rule reads ${RULE_FIELDS.join(', ')}, feature.<name> or score`)
  const key = name as keyof Transaction
  return kind === 'number'
    ? { kind, get: (i) => i.tx[key] as number }
    : { kind, get: (i) => i.tx[key] as string | undefined }
}

function comparison(getter: Getter, op: ComparisonOp, value: Scalar, path: string): Test {
  if (getter.kind === 'number') {
    const v = typeof value === 'boolean' ? Number(value) : value
    if (typeof v !== 'number') fail(`${path}: a number field compares with a number`)
    const get = getter.get
    // NaN (a feature without a value) compares false, so only `!=` matches it.
    switch (op) {
      case '==':
        return (i) => get(i) === v
      case '!=':
        return (i) => get(i) !== v
      case '<':
        return (i) => get(i) < v
      case '<=':
        return (i) => get(i) <= v
      case '>':
        return (i) => get(i) > v
      case '>=':
        return (i) => get(i) >= v
    }
  }
  // A YAML code written unquoted (mcc: 5411) arrives as a number; the field holds it as text.
  if (typeof value === 'boolean') fail(`${path}: a text field compares with a string`)
  if (op !== '==' && op !== '!=') fail(`${path}: a text field takes == or != (or in / not_in)`)
  const text = String(value)
  const get = getter.get
  return op === '==' ? (i) => get(i) === text : (i) => get(i) !== text
}

function membership(getter: Getter, values: readonly (string | number)[], path: string): Test {
  if (getter.kind === 'number') {
    if (!values.every((v) => typeof v === 'number')) fail(`${path}: a number field's list holds numbers`)
    const set = new Set(values as number[])
    const get = getter.get
    return (i) => set.has(get(i))
  }
  // Codes such as mcc are text in Transaction v1; a YAML list of unquoted 4-digit codes arrives as numbers.
  const set = new Set(values.map(String))
  const get = getter.get
  return (i) => {
    const v = get(i)
    return v !== undefined && set.has(v)
  }
}

function fail(message: string): never {
  throw new FraudstreamError(ErrorCode.ruleInvalid, message, 'input')
}
