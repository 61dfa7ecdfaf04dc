import type { OutgoingRecord, RecordSink } from '../core/ports.js'

export interface SlicedSinkOptions {
  /** How long one turn of the event loop may spend sending before the rest waits for the next turn. */
  readonly budgetMs?: number
  /** A send that threw: the records after it are still sent; the owner decides whether it can go on. */
  readonly onError: (err: unknown) => void
  readonly nowMs?: () => number
}

/** Records sent between two looks at the clock: a produce costs a few microseconds, the clock a fraction of one. */
const SENDS_PER_CHECK = 16

/**
 * A RecordSink that sends in the order given but at most `budgetMs` of records per turn of the event loop, the rest
 * on the next turns (setImmediate). A lookup partition publishes thousands of changed buckets at once; sent in one
 * go they held the loop, and every transaction waiting to be polled, for tens of milliseconds. Every record goes out
 * one turn later than it was given, in order, so what relied on the inner sink's order still holds.
 */
export class SlicedSink implements RecordSink {
  readonly #budgetMs: number
  readonly #nowMs: () => number
  #queue: { record: OutgoingRecord | (() => OutgoingRecord); onAck: () => void }[] = []
  #head = 0
  #scheduled = false
  #drained: (() => void)[] = []

  constructor(
    readonly inner: RecordSink,
    readonly options: SlicedSinkOptions,
  ) {
    this.#budgetMs = options.budgetMs ?? 2
    this.#nowMs = options.nowMs ?? (() => performance.now())
  }

  /** Records given and not yet handed to the inner sink. */
  get queued(): number {
    return this.#queue.length - this.#head
  }

  /** `record` may be a function that makes it when its turn comes, so the making is sliced too. */
  send(record: OutgoingRecord | (() => OutgoingRecord), onAck: () => void): void {
    this.#queue.push({ record, onAck })
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#drain())
    }
  }

  /** Resolves once every record given so far is handed over and the inner sink has flushed. */
  async flush(): Promise<void> {
    if (this.queued > 0) await new Promise<void>((resolve) => this.#drained.push(resolve))
    await this.inner.flush()
  }

  async close(): Promise<void> {
    this.#drain(Number.POSITIVE_INFINITY)
    await this.inner.close()
  }

  #drain(budgetMs = this.#budgetMs): void {
    const until = this.#nowMs() + budgetMs
    const queue = this.#queue
    while (this.#head < queue.length) {
      const { record, onAck } = queue[this.#head]!
      queue[this.#head++] = undefined as never
      try {
        this.inner.send(typeof record === 'function' ? record() : record, onAck)
      } catch (err) {
        this.options.onError(err)
      }
      if (this.#head % SENDS_PER_CHECK === 0 && this.#head < queue.length && this.#nowMs() >= until) {
        setImmediate(() => this.#drain())
        return
      }
    }
    this.#queue = []
    this.#head = 0
    this.#scheduled = false
    const drained = this.#drained
    this.#drained = []
    for (const resolve of drained) resolve()
  }
}
