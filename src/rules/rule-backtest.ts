import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import { compileRule, type CompiledRule } from './compile-rule.js'
import type { ListIndex } from './list-index.js'
import type { Condition, RuleV1 } from './rule-v1.js'

/** A `scores` row as the backtest reads it: the transaction's fields, its features, score and label. */
export interface HistoryRow {
  readonly tx: Transaction
  readonly rows: Float32Array
  readonly at: number
  readonly score: number
  /** Whether a model scored it (not a fallback or a rule-settled transaction, whose score is 0). */
  readonly modelScored: boolean
  readonly decision: string
  /** The latest label says fraud; a transaction without a label counts as legitimate. */
  readonly fraud: boolean
}

export interface RuleDay {
  /** YYYY-MM-DD (UTC). */
  readonly day: string
  readonly transactions: number
  readonly hits: number
  readonly cards: number
  readonly fraudHits: number
  /** fraudHits / hits; null without hits. */
  readonly precision: number | null
  readonly fraudAmountCaught: number
  /** Hits whose recorded decision the rule's forced decision would have changed. */
  readonly changed: number
}

export interface RuleBacktest {
  readonly rule: string
  readonly days: RuleDay[]
  readonly total: Omit<RuleDay, 'day'>
}

/** Transaction v1 fields the `scores` table does not keep: a rule reading one cannot be backtested. */
const NOT_IN_SCORES = new Set(['entry_mode', 'device_id', 'ip'])

/**
 * Compiles a rule for a backtest over `scores` history: the same compiled closure the stream runs. A field the table
 * does not keep is FS_ERR_RULE_INVALID rather than a silent "never matched".
 */
export function compileForBacktest(rule: RuleV1, featureNames: readonly string[], lists: ListIndex): CompiledRule {
  const missing = fieldsOf(rule.when).filter((f) => NOT_IN_SCORES.has(f))
  if (missing.length > 0)
    throw new FraudstreamError(
      ErrorCode.ruleInvalid,
      `rule ${rule.id} reads ${[...new Set(missing)].join(', ')}, which the scores table does not keep: it cannot be backtested`,
      'input',
    )
  return compileRule({ ...rule, enabled: true }, { featureNames, lists })
}

/** Every field a condition names. */
export function fieldsOf(condition: Condition): string[] {
  if ('all' in condition) return condition.all.flatMap(fieldsOf)
  if ('any' in condition) return condition.any.flatMap(fieldsOf)
  if ('not' in condition) return fieldsOf(condition.not)
  return [condition.field]
}

/** Whether the rule reads a list (the backtest then needs the lists' entries). */
export function readsLists(rule: RuleV1): boolean {
  const walk = (c: Condition): boolean =>
    'all' in c ? c.all.some(walk) : 'any' in c ? c.any.some(walk) : 'not' in c ? walk(c.not) : 'in_list' in c
  return walk(rule.when)
}

/**
 * Per-day counts of one rule over history, fed a day's rows at a time (so memory holds one day). A rule reading
 * `score` is not evaluated on rows no model scored, as in the stream. Lists are evaluated at each transaction's
 * event time, with the entries held now.
 */
export class RuleBacktestAccumulator {
  readonly #days: RuleDay[] = []

  constructor(readonly rule: CompiledRule) {}

  addDay(day: string, rows: readonly HistoryRow[]): void {
    const cards = new Set<string>()
    let hits = 0
    let fraudHits = 0
    let fraudAmountCaught = 0
    let changed = 0
    for (const row of rows) {
      if (this.rule.readsScore && !row.modelScored) continue
      if (!this.rule.test({ tx: row.tx, rows: row.rows, at: row.at, score: row.score, nowMs: row.tx.eventTimeMs }))
        continue
      hits++
      cards.add(row.tx.card_id)
      if (row.fraud) {
        fraudHits++
        fraudAmountCaught += row.tx.amount
      }
      const forced = this.rule.then.decision
      if (forced !== undefined && forced !== row.decision) changed++
    }
    this.#days.push({
      day,
      transactions: rows.length,
      hits,
      cards: cards.size,
      fraudHits,
      precision: hits > 0 ? fraudHits / hits : null,
      fraudAmountCaught,
      changed,
    })
  }

  result(): RuleBacktest {
    const sum = (pick: (d: RuleDay) => number) => this.#days.reduce((n, d) => n + pick(d), 0)
    const hits = sum((d) => d.hits)
    const fraudHits = sum((d) => d.fraudHits)
    return {
      rule: this.rule.id,
      days: [...this.#days],
      total: {
        transactions: sum((d) => d.transactions),
        hits,
        // Cards per day summed: a card hit on two days counts twice, as an investigator sees it twice.
        cards: sum((d) => d.cards),
        fraudHits,
        precision: hits > 0 ? fraudHits / hits : null,
        fraudAmountCaught: sum((d) => d.fraudAmountCaught),
        changed: sum((d) => d.changed),
      },
    }
  }
}
