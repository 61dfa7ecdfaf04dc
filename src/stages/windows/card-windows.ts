export interface CardWindowsOptions {
  /** The longest span + delay any feature reads; older events are dropped. */
  readonly maxSpanMs: number
  /** Events older than (max event time seen − allowedLatenessMs) are late: scored, but not added to state. */
  readonly allowedLatenessMs: number
  /** Numbers kept per event besides its time: the amount, then the attribute columns of the event layout. */
  readonly valuesPerEvent?: number
}

/** Everything a CardWindows holds, as plain data for a snapshot. */
export interface CardWindowsSnapshot {
  readonly maxEventTimeMs: number
  readonly late: number
  /** Numbers per event (time included): a snapshot of another layout cannot be loaded. */
  readonly stride: number
  /** [card_id, events] per card, in the map's insertion order; events as stored (see CardHistory). */
  readonly cards: readonly (readonly [string, readonly number[]])[]
}

/**
 * One card's events sorted by event time, interleaved as [t0, amount0, attributes0…, t1, …] in one array of
 * unboxed doubles: one array header per card, `stride` × 8 bytes per event.
 */
export type CardHistory = number[]

const CARD_OVERHEAD_BYTES = 160

/**
 * The card event log: every on-time event of each card, with the attributes its windows read (a merchant hash,
 * packed flags…), in partition-local memory. One log serves every window group of the feature set, so a
 * transaction costs one map lookup and one backward pass (see window-scan.ts) however many features it has.
 *
 * Watermark = max event time − allowedLatenessMs. A late event (time below the watermark) is scored with the state
 * as it is and never added, so it cannot change later results.
 */
export class CardWindows {
  readonly #cards = new Map<string, CardHistory>()
  readonly stride: number
  #sweep: MapIterator<[string, CardHistory]> | undefined
  #maxEventTimeMs = -Infinity
  #events = 0
  #late = 0
  #lastCardId: string | undefined
  #lastHistory: CardHistory | undefined

  constructor(readonly options: CardWindowsOptions) {
    this.stride = 1 + (options.valuesPerEvent ?? 1)
  }

  get watermarkMs(): number {
    return this.#maxEventTimeMs - this.options.allowedLatenessMs
  }

  get lateEvents(): number {
    return this.#late
  }

  get cardCount(): number {
    return this.#cards.size
  }

  /** An estimate for the byte-budget metric: arrays and map entries, not exact V8 accounting. */
  get estimatedBytes(): number {
    return this.#cards.size * CARD_OVERHEAD_BYTES + this.#events * this.stride * 8
  }

  isLate(eventTimeMs: number): boolean {
    return eventTimeMs < this.watermarkMs
  }

  /** A card's events; remembered, so the `add` that follows a feature row's scan does not look the card up again. */
  history(cardId: string): readonly number[] | undefined {
    if (cardId === this.#lastCardId) return this.#lastHistory
    const history = this.#cards.get(cardId)
    this.#lastCardId = cardId
    this.#lastHistory = history
    return history
  }

  /** Adds the event (`values`: the amount, then the attributes) unless it is late; returns whether it was late. */
  add(cardId: string, eventTimeMs: number, values: ArrayLike<number>): { late: boolean } {
    if (this.isLate(eventTimeMs)) {
      this.#late++
      return { late: true }
    }
    if (eventTimeMs > this.#maxEventTimeMs) this.#maxEventTimeMs = eventTimeMs
    let history = cardId === this.#lastCardId ? this.#lastHistory : this.#cards.get(cardId)
    if (!history) {
      history = []
      this.#cards.set(cardId, history)
    }
    this.#lastCardId = cardId
    this.#lastHistory = history
    const stride = this.stride
    const at = upperBound(history, stride, eventTimeMs)
    if (stride * at === history.length) {
      history.push(eventTimeMs)
      for (let v = 0; v < stride - 1; v++) history.push(values[v]!)
    } else history.splice(stride * at, 0, eventTimeMs, ...Array.from({ length: stride - 1 }, (_, v) => values[v]!))
    this.#events++
    this.#trim(history)
    return { late: false }
  }

  /**
   * Drops keys whose newest event can no longer fall in any on-time window (the per-key TTL = the longest span).
   * With `maxKeys`, visits at most that many keys, resuming where the last call stopped: a sweep in slices, so the
   * cost per record stays constant with millions of keys (a Map iterator stays valid across deletions).
   */
  evictIdle(maxKeys = Infinity): number {
    const horizonMs = this.watermarkMs - this.options.maxSpanMs
    if (maxKeys === Infinity) this.#sweep = undefined
    let evicted = 0
    for (let visited = 0; visited < maxKeys; visited++) {
      this.#sweep ??= this.#cards.entries()
      const next = this.#sweep.next()
      if (next.done) {
        this.#sweep = undefined
        break
      }
      const [cardId, history] = next.value
      const newest = history[history.length - this.stride]
      if (newest === undefined || newest <= horizonMs) {
        this.#events -= history.length / this.stride
        this.#cards.delete(cardId)
        this.#lastCardId = undefined
        evicted++
      }
    }
    return evicted
  }

  toSnapshot(): CardWindowsSnapshot {
    return { maxEventTimeMs: this.#maxEventTimeMs, late: this.#late, stride: this.stride, cards: [...this.#cards] }
  }

  static fromSnapshot(options: CardWindowsOptions, snapshot: CardWindowsSnapshot): CardWindows {
    const windows = new CardWindows(options)
    if (snapshot.stride !== windows.stride) throw new Error(`snapshot stride ${snapshot.stride} does not match the event layout (${windows.stride})`)
    windows.#maxEventTimeMs = snapshot.maxEventTimeMs
    windows.#late = snapshot.late
    for (const [id, history] of snapshot.cards) {
      windows.#cards.set(id, [...history])
      windows.#events += history.length / windows.stride
    }
    return windows
  }

  /**
   * Budget policy: when the estimate exceeds `maxBytes`, idle cards go first, then the cards whose newest event is
   * oldest, until the estimate is under 90 % of the budget. Features of an evicted card restart from empty (as for a
   * card never seen), so a budget that bites trades exactness for memory; the caller counts and logs it.
   */
  enforceBudget(maxBytes: number): number {
    if (this.estimatedBytes <= maxBytes) return 0
    let evicted = this.evictIdle()
    if (this.estimatedBytes <= maxBytes) return evicted
    const stride = this.stride
    const byNewest = [...this.#cards].map(([id, h]) => [id, h[h.length - stride] ?? -Infinity, h.length / stride] as const).sort((a, b) => a[1] - b[1])
    const target = maxBytes * 0.9
    for (const [id, , events] of byNewest) {
      if (this.estimatedBytes <= target) break
      this.#cards.delete(id)
      this.#lastCardId = undefined
      this.#events -= events
      evicted++
    }
    return evicted
  }

  /** Events at or below watermark − maxSpan can never be inside a window of a non-late event. */
  #trim(history: CardHistory): void {
    const cut = upperBound(history, this.stride, this.watermarkMs - this.options.maxSpanMs)
    if (cut > 0) {
      history.splice(0, this.stride * cut)
      this.#events -= cut
    }
  }
}

/** Index (in events) of the first event later than `value` in an interleaved history. */
export function upperBound(history: readonly number[], stride: number, value: number): number {
  let hi = history.length / stride
  // Events mostly arrive in time order: the newest one is usually at or before `value`.
  if (hi === 0 || history[stride * (hi - 1)]! <= value) return hi
  let lo = 0
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (history[stride * mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}
