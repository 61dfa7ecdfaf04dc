export interface MicroBatcherOptions<T> {
  readonly maxRecords: number
  /** How long the first record of a batch may wait for company. 0 = flush at the end of the current tick. */
  readonly lingerMs: number
  readonly onBatch: (items: T[]) => void
  /** Injected so the batcher stays testable with a manual clock. */
  readonly schedule: (fn: () => void, delayMs: number) => { cancel(): void }
}

/**
 * Collects items into batches of at most `maxRecords`, flushing a partial batch `lingerMs` after its first item.
 * Items leave in the order they came.
 */
export class MicroBatcher<T> {
  #items: T[] = []
  #timer: { cancel(): void } | undefined

  constructor(readonly options: MicroBatcherOptions<T>) {}

  get pending(): number {
    return this.#items.length
  }

  add(item: T): void {
    this.#items.push(item)
    if (this.#items.length >= this.options.maxRecords) this.flush()
    else if (!this.#timer) this.#timer = this.options.schedule(() => this.flush(), this.options.lingerMs)
  }

  flush(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    if (this.#items.length === 0) return
    const batch = this.#items
    this.#items = []
    this.options.onBatch(batch)
  }
}
