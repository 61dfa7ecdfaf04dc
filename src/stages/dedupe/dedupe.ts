export interface DedupeOptions {
  /** How long, in event time, a transaction_id is remembered after the newest event seen. */
  readonly horizonMs: number
  /** Hard cap on remembered ids; past it the oldest are forgotten first and counted in `evictedEarly`. */
  readonly maxEntries: number
}

/** The remembered ids in arrival order, as plain data for a snapshot. */
export interface DedupeSnapshot {
  readonly maxEventTimeMs: number
  readonly evictedEarly: number
  readonly entries: readonly (readonly [string, number])[]
}

/**
 * Partition-local memory of transaction ids. Duplicates of one transaction share its card key, hence its partition,
 * so a partition-local set catches them all.
 *
 * An id is remembered at least until the newest event time seen passes its own event time + horizonMs (ids are
 * expired in arrival order, so one behind a younger id may be kept longer, never shorter), unless `maxEntries`
 * forces it out first.
 *
 * | arrivals (id@t)            | horizon 10 | result                         |
 * | a@0, b@5, a@9              |            | a@9 is a duplicate             |
 * | a@0, b@11, a@12            |            | a forgotten at b@11: a@12 kept |
 */
export class Dedupe {
  readonly #seen = new Map<string, number>()
  /**
   * The remembered ids again, in arrival order from `#head` on: expiry takes them from the front. Iterating the map
   * from its start instead would step over every entry deleted since its last rehash, on every call.
   */
  #order: string[] = []
  #times: number[] = []
  #head = 0
  #maxEventTimeMs = -Infinity
  #evictedEarly = 0

  constructor(readonly options: DedupeOptions) {}

  /** Records the id and says whether it was already seen within the horizon. */
  isDuplicate(transactionId: string, eventTimeMs: number): boolean {
    if (this.#seen.has(transactionId)) return true
    this.#seen.set(transactionId, eventTimeMs)
    this.#order.push(transactionId)
    this.#times.push(eventTimeMs)
    if (eventTimeMs > this.#maxEventTimeMs) this.#maxEventTimeMs = eventTimeMs
    this.#expire()
    return false
  }

  get size(): number {
    return this.#seen.size
  }

  /** Ids forgotten because of `maxEntries` before their horizon ran out: duplicates of those would pass. */
  get evictedEarly(): number {
    return this.#evictedEarly
  }

  toSnapshot(): DedupeSnapshot {
    return { maxEventTimeMs: this.#maxEventTimeMs, evictedEarly: this.#evictedEarly, entries: [...this.#seen] }
  }

  static fromSnapshot(options: DedupeOptions, snapshot: DedupeSnapshot): Dedupe {
    const dedupe = new Dedupe(options)
    dedupe.#maxEventTimeMs = snapshot.maxEventTimeMs
    dedupe.#evictedEarly = snapshot.evictedEarly
    for (const [id, timeMs] of snapshot.entries) {
      dedupe.#seen.set(id, timeMs)
      dedupe.#order.push(id)
      dedupe.#times.push(timeMs)
    }
    return dedupe
  }

  #expire(): void {
    const cutoffMs = this.#maxEventTimeMs - this.options.horizonMs
    while (this.#head < this.#order.length) {
      const timeMs = this.#times[this.#head]!
      if (timeMs > cutoffMs && this.#seen.size <= this.options.maxEntries) break
      if (timeMs > cutoffMs) this.#evictedEarly++
      this.#seen.delete(this.#order[this.#head]!)
      this.#head++
    }
    // Compacted now and then rather than shifted per expiry: shift() on a large array is O(n).
    if (this.#head > 4096 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head)
      this.#times = this.#times.slice(this.#head)
      this.#head = 0
    }
  }
}
