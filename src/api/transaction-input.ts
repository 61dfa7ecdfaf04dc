import { eventTimeMsOf, knownValidTransaction, TransactionV1Schema, type Transaction } from '../core/transaction-v1.js'

/** One validation issue of a request body, with the dotted path of the field (`transactions.2.amount`). */
export interface InputIssue {
  readonly path: string
  readonly message: string
  readonly code: string
}

export type TransactionsInput =
  | { readonly kind: 'ok'; readonly txs: readonly Transaction[] }
  | { readonly kind: 'invalid'; readonly issues: readonly InputIssue[] }

export interface InputLimits {
  /** Wall-clock now, for the event-time check. */
  readonly wallMs: number
  /** decode.maxEventTimeAheadMs: the stream dead-letters a transaction further ahead of its record time. */
  readonly maxEventTimeAheadMs: number
}

/**
 * A request's transactions, validated with TransactionV1Schema (the schema the stream decodes with), plus the one check
 * the stream makes against the record's time: an event_time too far ahead would be dead-lettered, and its request
 * would wait for a decision that never comes. Every issue of every transaction is reported, each with its path under
 * `prefix`.
 */
export function validateTransactions(
  values: readonly unknown[],
  prefix: readonly (string | number)[],
  limits: InputLimits,
): TransactionsInput {
  const txs: Transaction[] = []
  const issues: InputIssue[] = []
  values.forEach((value, i) => {
    const at = values.length === 1 && prefix.length === 0 ? [] : [...prefix, i]
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path: pathOf(at), message: 'a transaction must be a JSON object', code: 'invalid_type' })
      return
    }
    let tx = knownValidTransaction(value as Record<string, unknown>)
    if (!tx) {
      const result = TransactionV1Schema.safeParse(value)
      if (!result.success) {
        for (const issue of result.error.issues)
          issues.push({ path: pathOf([...at, ...issue.path.map(String)]), message: issue.message, code: issue.code })
        return
      }
      tx = result.data
    }
    const eventTimeMs = eventTimeMsOf(tx.event_time)
    if (eventTimeMs > limits.wallMs + limits.maxEventTimeAheadMs) {
      issues.push({
        path: pathOf([...at, 'event_time']),
        message: `event_time is more than ${limits.maxEventTimeAheadMs} ms ahead of now (decode.maxEventTimeAheadMs)`,
        code: 'too_big',
      })
      return
    }
    txs.push({ ...tx, eventTimeMs })
  })
  return issues.length > 0 ? { kind: 'invalid', issues } : { kind: 'ok', txs }
}

function pathOf(parts: readonly (string | number)[]): string {
  return parts.length === 0 ? '(root)' : parts.join('.')
}
