export interface CardWindowsOptions {
  /** The longest span any feature reads; older events are dropped. */
  readonly maxSpanMs: number
  /** Events older than (max event time seen − allowedLatenessMs) are late: scored, but not added to state. */
  readonly allowedLatenessMs: number
}

/** Per-span aggregates filled by `scan`, one slot per span. */
export interface WindowStats {
  readonly counts: Float64Array
  readonly sums: Float64Array
  readonly sumSquares: Float64Array
  readonly mins: Float64Array
  readonly maxs: Float64Array
}

export function createWindowStats(spans: number): WindowStats {
  return { counts: new Float64Array(spans), sums: new Float64Array(spans), sumSquares: new Float64Array(spans), mins: new Float64Array(spans), maxs: new Float64Array(spans) }
}

/** Everything a CardWindows holds, as plain data for a snapshot. */
export interface CardWindowsSnapshot {
  readonly maxEventTimeMs: number
  readonly late: number
  /** [card_id, event times (ms, sorted), amounts] per card, in the map's insertion order. */
  readonly cards: readonly (readonly [string, readonly number[], readonly number[]])[]
}

/**
 * One card's events sorted by event time, interleaved as [t0, amount0, t1, amount1, …] in one array of unboxed
 * doubles: 16 bytes per event and one array header per card (two parallel arrays cost ~70 bytes more per card).
 */
type CardHistory = number[]

const CARD_OVERHEAD_BYTES = 160
const SMALL_DISTINCT = 64
const distinctScratch = new Float64Array(SMALL_DISTINCT)
const EVENT_BYTES = 16

/**
 * Card-keyed event-time windows in partition-local memory.
 *
 * Semantics (DESIGN.md §4): a window of span W at event time t covers the card's events with time in (t − W, t].
 * `scan` answers over the events seen so far, excluding the current transaction; the feature stage adds the
 * current one where the window's filter and delay allow. Watermark = max event time − allowedLatenessMs. A late event (time
 * below the watermark) is scored with the state as it is and never added, so it cannot change later results.
 *
 * | arrivals (t, amount) | W = 10 | aggregate at the third arrival |
 * | (0, 5), (4, 7), (12, 1) | (2, 12] | count 1, sum 7: the event at 0 has left |
 */
export class CardWindows {
  readonly #cards = new Map<string, CardHistory>()
  #sweep: MapIterator<[string, CardHistory]> | undefined
  #maxEventTimeMs = -Infinity
  #events = 0
  #late = 0

  constructor(readonly options: CardWindowsOptions) {}

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
    return this.#cards.size * CARD_OVERHEAD_BYTES + this.#events * EVENT_BYTES
  }

  isLate(eventTimeMs: number): boolean {
    return eventTimeMs < this.watermarkMs
  }

  /**
   * All spans in one backward pass over the key's events (what a feature row needs): for each span (ascending)
   * count, sum, sum of squares, min and max of the amounts in (atMs − span, atMs], written into `stats`.
   * Returns the latest event time ≤ atMs, or undefined. One pass instead of one search per feature is what keeps
   * updates near 1M/s.
   */
  scan(key: string, atMs: number, spansAscending: readonly number[], stats: WindowStats): number | undefined {
    const { counts, sums, sumSquares, mins, maxs } = stats
    counts.fill(0)
    sums.fill(0)
    sumSquares.fill(0)
    mins.fill(Infinity)
    maxs.fill(-Infinity)
    const history = this.#cards.get(key)
    if (!history) return undefined
    const end = upperBound(history, atMs)
    const spanCount = spansAscending.length
    let k = 0
    for (let i = end - 1; i >= 0; i--) {
      const age = atMs - history[2 * i]!
      while (k < spanCount && age >= spansAscending[k]!) k++
      if (k === spanCount) break
      const amount = history[2 * i + 1]!
      counts[k]!++
      sums[k]! += amount
      sumSquares[k]! += amount * amount
      if (amount < mins[k]!) mins[k] = amount
      if (amount > maxs[k]!) maxs[k] = amount
    }
    // Each event was booked under the smallest span holding it; larger spans hold it too.
    for (let j = 1; j < spanCount; j++) {
      counts[j]! += counts[j - 1]!
      sums[j]! += sums[j - 1]!
      sumSquares[j]! += sumSquares[j - 1]!
      if (mins[j - 1]! < mins[j]!) mins[j] = mins[j - 1]!
      if (maxs[j - 1]! > maxs[j]!) maxs[j] = maxs[j - 1]!
    }
    return end > 0 ? history[2 * end - 2] : undefined
  }

  /**
   * Distinct stored values (field hashes of a distinct_count store) per span in (atMs − span, atMs], in one backward
   * pass; `current` (the transaction being scored, when its window includes it) counts as seen. The values seen so
   * far sit in a small array searched linearly (faster than a Set for the few values a card's window holds), moving
   * to a Set past SMALL_DISTINCT of them.
   */
  scanDistinct(key: string, atMs: number, spansAscending: readonly number[], out: Float64Array, current: number | undefined): void {
    const seen = distinctScratch
    let n = 0
    let overflow: Set<number> | undefined
    if (current !== undefined) seen[n++] = current
    const history = this.#cards.get(key)
    const spanCount = spansAscending.length
    let k = 0
    if (history) {
      for (let i = upperBound(history, atMs) - 1; i >= 0 && k < spanCount; i--) {
        const age = atMs - history[2 * i]!
        while (k < spanCount && age >= spansAscending[k]!) out[k++] = overflow ? overflow.size : n
        const value = history[2 * i + 1]!
        if (overflow) {
          overflow.add(value)
          continue
        }
        let j = 0
        while (j < n && seen[j] !== value) j++
        if (j < n) continue
        if (n < SMALL_DISTINCT) seen[n++] = value
        else {
          overflow = new Set(seen)
          overflow.add(value)
        }
      }
    }
    while (k < spanCount) out[k++] = overflow ? overflow.size : n
  }

  /** Adds the event unless it is late; returns whether it was late. */
  add(cardId: string, eventTimeMs: number, amount: number): { late: boolean } {
    if (this.isLate(eventTimeMs)) {
      this.#late++
      return { late: true }
    }
    if (eventTimeMs > this.#maxEventTimeMs) this.#maxEventTimeMs = eventTimeMs
    let history = this.#cards.get(cardId)
    if (!history) {
      history = []
      this.#cards.set(cardId, history)
    }
    const at = upperBound(history, eventTimeMs)
    if (2 * at === history.length) history.push(eventTimeMs, amount)
    else history.splice(2 * at, 0, eventTimeMs, amount)
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
      const newest = history[history.length - 2]
      if (newest === undefined || newest <= horizonMs) {
        this.#events -= history.length / 2
        this.#cards.delete(cardId)
        evicted++
      }
    }
    return evicted
  }

  toSnapshot(): CardWindowsSnapshot {
    return { maxEventTimeMs: this.#maxEventTimeMs, late: this.#late, cards: [...this.#cards].map(([id, h]) => [id, h.filter((_, i) => i % 2 === 0), h.filter((_, i) => i % 2 === 1)] as const) }
  }

  static fromSnapshot(options: CardWindowsOptions, snapshot: CardWindowsSnapshot): CardWindows {
    const windows = new CardWindows(options)
    windows.#maxEventTimeMs = snapshot.maxEventTimeMs
    windows.#late = snapshot.late
    for (const [id, timesMs, amounts] of snapshot.cards) {
      windows.#cards.set(id, timesMs.flatMap((t, i) => [t, amounts[i]!]))
      windows.#events += timesMs.length
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
    const byNewest = [...this.#cards].map(([id, h]) => [id, h[h.length - 2] ?? -Infinity, h.length / 2] as const).sort((a, b) => a[1] - b[1])
    const target = maxBytes * 0.9
    for (const [id, , events] of byNewest) {
      if (this.estimatedBytes <= target) break
      this.#cards.delete(id)
      this.#events -= events
      evicted++
    }
    return evicted
  }

  /** Events at or below watermark − maxSpan can never be inside a window of a non-late event. */
  #trim(history: CardHistory): void {
    const cut = upperBound(history, this.watermarkMs - this.options.maxSpanMs)
    if (cut > 0) {
      history.splice(0, 2 * cut)
      this.#events -= cut
    }
  }
}

/** Index (in events) of the first event later than value in an interleaved history. */
function upperBound(history: CardHistory, value: number): number {
  let lo = 0
  let hi = history.length / 2
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (history[2 * mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}
