import type { DecisionV1 } from '../core/records.js'
import { recordOf, type DecisionOfRecord } from './decision-of-record.js'

interface Pending {
  readonly promise: Promise<DecisionOfRecord | undefined>
  readonly resolve: (decision: DecisionOfRecord | undefined) => void
  readonly expiresAtMs: number
  /** Past settleMs, its decision being looked up elsewhere (onExpired): requests still join it meanwhile. */
  expiring: boolean
}

export interface DecisionWaiterOptions {
  /** Transactions awaited at once (requests in flight plus answered ones still settling); past it `wait` refuses. */
  readonly maxPending: number
  /** How long a transaction is awaited after its first request; then it expires and `onExpired` names it. */
  readonly settleMs: number
  /**
   * Transactions that expired without a decision, once per sweep: their decisions where found elsewhere (`scores`).
   * They stay awaited until it answers, so a retry meanwhile joins the wait instead of producing the transaction again.
   */
  readonly onExpired?: (ids: readonly string[]) => Promise<ReadonlyMap<string, DecisionOfRecord>>
  readonly nowMs?: () => number
}

/** `{"transaction_id":"` : how every Decision v1 record starts (decide-stage.ts builds it with that field first). */
const ID_PREFIX = Buffer.from('{"transaction_id":"')
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Requests waiting for the stream's decision of their transaction, by transaction_id. Every request for one id shares
 * one wait, so a retry that arrives while the first is in flight joins it rather than producing the transaction again.
 * Decisions come from the job in this process (`resolve`, from the decide stage's hook) or from the decisions topic
 * (`resolveRecord`, for cards whose partition another instance owns); whichever comes first settles the wait.
 */
export class DecisionWaiter {
  readonly #pending = new Map<string, Pending>()
  readonly #nowMs: () => number
  readonly #sweep: NodeJS.Timeout

  constructor(readonly options: DecisionWaiterOptions) {
    this.#nowMs = options.nowMs ?? (() => performance.now())
    // One sweep a second, not a timer per transaction: entries expire in creation order, so a sweep stops at the first live one.
    this.#sweep = setInterval(() => void this.sweep(), Math.min(1_000, options.settleMs)).unref()
  }

  get size(): number {
    return this.#pending.size
  }

  isPending(id: string): boolean {
    return this.#pending.has(id)
  }

  /**
   * The wait for `id`: `created` tells the caller it is the first and must submit the transaction. Undefined when
   * `maxPending` transactions are awaited already.
   */
  wait(id: string): { readonly promise: Promise<DecisionOfRecord | undefined>; readonly created: boolean } | undefined {
    const held = this.#pending.get(id)
    if (held) return { promise: held.promise, created: false }
    if (this.#pending.size >= this.options.maxPending) return undefined
    let resolve!: Pending['resolve']
    const promise = new Promise<DecisionOfRecord | undefined>((r) => (resolve = r))
    this.#pending.set(id, { promise, resolve, expiresAtMs: this.#nowMs() + this.options.settleMs, expiring: false })
    return { promise, created: true }
  }

  /** Gives up on `id` (its submission failed): its requests get undefined, a later request starts afresh. */
  abandon(id: string): void {
    this.#pending.get(id)?.resolve(undefined)
    this.#pending.delete(id)
  }

  /** A decision of the stream: true when some request waited for it. */
  resolve(decision: DecisionV1): boolean {
    return this.settle(decision.transaction_id, recordOf(decision))
  }

  /** Ends the wait for `id` with its decision (undefined: none known); true when some request waited for it. */
  settle(id: string, record: DecisionOfRecord | undefined): boolean {
    const pending = this.#pending.get(id)
    if (!pending) return false
    this.#pending.delete(id)
    pending.resolve(record)
    return true
  }

  /**
   * A record of the decisions topic: parsed only when its transaction is awaited, since the topic carries every
   * decision of the cluster and nearly all of them are the generator's or other gateways'. Returns the decision when
   * some request waited for it.
   */
  resolveRecord(value: Buffer): DecisionV1 | undefined {
    if (this.#pending.size === 0) return undefined
    const id = transactionIdOf(value)
    if (id !== undefined && !this.#pending.has(id)) return undefined
    const decision = JSON.parse(value.toString('utf8')) as DecisionV1
    return this.resolve(decision) ? decision : undefined
  }

  /**
   * Expires waits older than settleMs (their requests were answered by the fallback long before): each ends with the
   * decision onExpired finds, or with none.
   */
  async sweep(): Promise<void> {
    const nowMs = this.#nowMs()
    const expired: string[] = []
    for (const [id, pending] of this.#pending) {
      if (pending.expiresAtMs > nowMs) break
      if (pending.expiring) continue
      pending.expiring = true
      expired.push(id)
    }
    if (expired.length === 0) return
    let found: ReadonlyMap<string, DecisionOfRecord> = new Map()
    try {
      found = (await this.options.onExpired?.(expired)) ?? found
    } finally {
      for (const id of expired) if (this.#pending.get(id)?.expiring) this.settle(id, found.get(id))
    }
  }

  close(): void {
    clearInterval(this.#sweep)
    for (const pending of this.#pending.values()) pending.resolve(undefined)
    this.#pending.clear()
  }
}

/**
 * The transaction_id of a Decision v1 record without parsing it, or undefined when the record does not start as
 * decide-stage.ts writes it or the id has an escape (the caller then parses the whole record).
 */
export function transactionIdOf(value: Buffer): string | undefined {
  if (value.length <= ID_PREFIX.length || value.compare(ID_PREFIX, 0, ID_PREFIX.length, 0, ID_PREFIX.length) !== 0)
    return undefined
  const end = value.indexOf(QUOTE, ID_PREFIX.length)
  if (end < 0) return undefined
  const backslash = value.indexOf(BACKSLASH, ID_PREFIX.length)
  if (backslash >= 0 && backslash < end) return undefined
  return value.toString('utf8', ID_PREFIX.length, end)
}
