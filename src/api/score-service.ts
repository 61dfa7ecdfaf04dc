import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import type { Decision, DecisionV1, ModelRef } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import type { Logger } from '../observability/logger.js'
import type { DecisionCache } from './decision-cache.js'
import { recordOf, type DecisionOfRecord } from './decision-of-record.js'
import type { DecisionWaiter } from './decision-waiter.js'
import type { FallbackAnswer } from './fallback-answer.js'

/** One transaction's answer, as `POST /v1/score` returns it. */
export interface ScoreAnswer {
  readonly transaction_id: string
  readonly decision: Decision
  /** The deciding model's score; null when the fallback answered (no model saw the transaction in time). */
  readonly score: number | null
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
  readonly model: ModelRef
  /** From the request arriving to this answer. */
  readonly latency_ms: number
  /** The stream's decision missed api.deadlineMs and the fallback rules answered; the stream still decides and records it. */
  readonly fallback: boolean
  /** An earlier request for this transaction_id produced it: this answer is that request's decision (a retry). */
  readonly replayed: boolean
}

export type { DecisionOfRecord } from './decision-of-record.js'

export type AnswerSource = 'stream' | 'replayed' | 'fallback'

export interface ScoreServiceOptions {
  /** Produces the transaction to the transactions topic, keyed by card_id; throws when the producer refuses it. */
  readonly submit: (tx: Transaction) => void
  readonly waiter: DecisionWaiter
  readonly cache: DecisionCache<DecisionOfRecord>
  readonly fallback: (tx: Transaction) => FallbackAnswer
  /** The champion now: the model a fallback answer names, as a fallback Decision v1 does. */
  readonly model: () => ModelRef
  readonly deadlineMs: number
  /** Recorded decisions of transactions, from `scores`: asked for transactions that expired without a decision. */
  readonly lookup?: (ids: readonly string[]) => Promise<ReadonlyMap<string, DecisionOfRecord>>
  readonly onAnswer?: (source: AnswerSource, count: number) => void
  readonly onUnsettled?: (count: number) => void
  readonly log: Logger
  readonly nowMs?: () => number
}

/**
 * Scores transactions through the stream: each is produced to the transactions topic (keyed by card_id, as every
 * producer does, so the partition's owner decides it with the card's state) and its decision awaited until the
 * deadline; past it the fallback rules answer. Idempotent by transaction_id:
 *
 * | request for an id that is …                 | answer                                    | produced again |
 * | ------------------------------------------- | ----------------------------------------- | -------------- |
 * | in the decision cache                       | that decision, `replayed`                 | no             |
 * | awaited by an earlier request               | the same wait's decision, `replayed`      | no             |
 * | unknown here (new, or evicted, or another   | the stream's decision; the fallback past  | yes: a decided |
 * | instance's)                                 | the deadline                              | one is deduped |
 *
 * A transaction answered by the fallback is awaited on for api.settleMs, then looked up in `scores`, so a retry gets
 * the decision of record either way.
 */
export class ScoreService {
  readonly #nowMs: () => number

  constructor(readonly options: ScoreServiceOptions) {
    this.#nowMs = options.nowMs ?? (() => performance.now())
  }

  /** A decision from the job in this process or from the decisions topic: kept if a request waits for it. */
  onDecision(decision: DecisionV1): void {
    if (this.options.waiter.resolve(decision)) this.options.cache.set(decision.transaction_id, recordOf(decision))
  }

  /** A record of the decisions topic, parsed only when a request waits for its transaction. */
  onDecisionRecord(value: Buffer): void {
    const decision = this.options.waiter.resolveRecord(value)
    if (decision) this.options.cache.set(decision.transaction_id, recordOf(decision))
  }

  /**
   * Transactions whose wait expired: their decisions of record from `scores` (kept for retries by the waiter's
   * settle), and the count of those found nowhere.
   */
  async onExpired(ids: readonly string[]): Promise<ReadonlyMap<string, DecisionOfRecord>> {
    const { lookup } = this.options
    let found: ReadonlyMap<string, DecisionOfRecord> = new Map()
    if (lookup) {
      try {
        found = await lookup(ids)
      } catch (err) {
        this.options.log.warn({ err, transactions: ids.length }, 'scores lookup of unsettled transactions failed')
      }
    }
    for (const [id, record] of found) this.options.cache.set(id, record)
    const unsettled = ids.length - found.size
    if (unsettled > 0) {
      this.options.onUnsettled?.(unsettled)
      this.options.log.warn(
        { transactions: unsettled },
        'answered by the fallback and never decided: not in the decisions topic nor in scores (dead-lettered, or the stream is behind)',
      )
    }
    return found
  }

  /** Answers for `txs` in their order, by `startedAtMs + deadlineMs` at the latest. */
  async score(txs: readonly Transaction[], startedAtMs: number): Promise<ScoreAnswer[]> {
    const { cache, waiter } = this.options
    const decided: (DecisionOfRecord | undefined)[] = new Array(txs.length)
    const replayed: boolean[] = new Array(txs.length).fill(false)
    const waits: Promise<unknown>[] = []
    txs.forEach((tx, i) => {
      const id = tx.transaction_id
      const cached = cache.get(id)
      if (cached) {
        decided[i] = cached
        replayed[i] = true
        return
      }
      const wait = waiter.wait(id)
      if (!wait)
        throw new FraudstreamError(
          ErrorCode.apiOverloaded,
          `${waiter.size} transactions are awaited already (api.idempotency.maxEntries): try again shortly`,
          'external',
          true,
        )
      if (wait.created) {
        try {
          this.options.submit(tx)
        } catch (err) {
          waiter.abandon(id)
          throw new FraudstreamError(
            ErrorCode.kafkaProduce,
            `cannot produce the transaction: ${errorMessageOf(err)}`,
            'external',
            true,
            { cause: err },
          )
        }
      } else replayed[i] = true
      waits.push(wait.promise.then((d) => void (decided[i] = d)))
    })
    if (waits.length > 0) {
      const remainingMs = startedAtMs + this.options.deadlineMs - this.#nowMs()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all(waits),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, remainingMs)))),
      ])
      clearTimeout(timer)
    }
    const latencyMs = Math.round((this.#nowMs() - startedAtMs) * 1000) / 1000
    const counts = { stream: 0, replayed: 0, fallback: 0 }
    const answers = txs.map((tx, i): ScoreAnswer => {
      const record = decided[i]
      if (record) {
        counts[replayed[i] ? 'replayed' : 'stream']++
        return {
          transaction_id: tx.transaction_id,
          ...record,
          latency_ms: latencyMs,
          fallback: false,
          replayed: replayed[i]!,
        }
      }
      counts.fallback++
      return {
        transaction_id: tx.transaction_id,
        ...this.options.fallback(tx),
        score: null,
        model: this.options.model(),
        latency_ms: latencyMs,
        fallback: true,
        replayed: replayed[i]!,
      }
    })
    for (const [source, n] of Object.entries(counts)) if (n > 0) this.options.onAnswer?.(source as AnswerSource, n)
    return answers
  }
}
