import type { TransactionAttributes } from '../../core/ports.js'
import { attributesOf } from './label-attribution.js'

type Indexed = Parameters<typeof attributesOf>[0] & { readonly transaction_id: string }

/**
 * The attributes of the transactions seen, by transaction_id, so that labels carrying the id alone reach the lookup
 * tables offline (`fraudstream features`, training) as they do in the stream, where `scores` answers. Bounded by what
 * can still matter, in one of two ways:
 *
 * | bound                | keeps                                          | for                                        |
 * | -------------------- | ---------------------------------------------- | ------------------------------------------ |
 * | `{ only: ids }`      | the transactions of these ids, whatever their age | a caller that read the labels first      |
 * | `{ retainMs }`       | every transaction less than retainMs older than the newest | labels fed in event order with the transactions: a label of an older transaction reaches no window still to be read |
 *
 * The first transaction of an id wins, as the stream's dedupe keeps the first.
 */
export class TransactionIndex {
  readonly #byId = new Map<string, TransactionAttributes>()
  readonly #only: ReadonlySet<string> | undefined
  readonly #retainMs: number
  /** [event time, id] in arrival order: near event order, so the oldest are found at the front. */
  readonly #arrivals: [number, string][] = []
  #head = 0
  #newestMs = -Infinity

  constructor(bound: { readonly only: ReadonlySet<string> } | { readonly retainMs: number }) {
    this.#only = 'only' in bound ? bound.only : undefined
    this.#retainMs = 'retainMs' in bound ? bound.retainMs : Infinity
  }

  get size(): number {
    return this.#byId.size
  }

  remember(tx: Indexed): void {
    if (this.#only && !this.#only.has(tx.transaction_id)) return
    if (this.#byId.has(tx.transaction_id)) return
    this.#byId.set(tx.transaction_id, attributesOf(tx))
    if (this.#retainMs === Infinity) return
    this.#arrivals.push([tx.eventTimeMs, tx.transaction_id])
    if (tx.eventTimeMs > this.#newestMs) this.#newestMs = tx.eventTimeMs
    this.#evict()
  }

  get(transactionId: string): TransactionAttributes | undefined {
    return this.#byId.get(transactionId)
  }

  #evict(): void {
    const cutMs = this.#newestMs - this.#retainMs
    while (this.#head < this.#arrivals.length && this.#arrivals[this.#head]![0] < cutMs) {
      this.#byId.delete(this.#arrivals[this.#head]![1])
      this.#head++
    }
    // Compact now and then instead of shifting per eviction: shift() on a large array is O(n).
    if (this.#head > 4096 && this.#head * 2 > this.#arrivals.length) {
      this.#arrivals.splice(0, this.#head)
      this.#head = 0
    }
  }
}
