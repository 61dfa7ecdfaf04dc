export interface CardWindowsOptions {
  /** The longest span + delay any window reads: older events are dropped. */
  readonly horizonMs: number
  /**
   * The longest span + delay of the windows that read more than event times (amounts, fields, filters). Events older
   * than this keep only their time, for count windows reaching further back. Defaults to horizonMs.
   */
  readonly attributesHorizonMs?: number
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
  /** [card_id, log] per card, in the map's insertion order; each log as CardLog without its spare capacity. */
  readonly cards: readonly (readonly [string, readonly number[]])[]
}

/**
 * One card's on-time events, oldest first, in one array of unboxed doubles:
 *   [used length, n, time₁ … timeₙ, then events of `stride` numbers: time, amount, attribute columns…]
 * The n time-only events are older than the attributes horizon: only count windows reaching further back read them,
 * so their amounts and attributes are dropped. Slots from `used length` to the array's end are spare capacity.
 */
export type CardLog = number[]

export const LOG_HEADER = 2
/** JS array object + its elements header + map entry + card id string, roughly. */
const CARD_OVERHEAD_BYTES = 120

/** Index of the first full event (time, amount, attributes) of a log. */
export function fullEventsStart(log: readonly number[]): number {
  return LOG_HEADER + log[1]!
}

export function logEnd(log: readonly number[]): number {
  return log[0]!
}

/**
 * The card event log: every on-time event of each card, with the attributes its windows read (a merchant hash,
 * packed codes…), in partition-local memory. One log serves every window group of the feature set, so a
 * transaction costs one map lookup however many features it has (see window-scan.ts).
 *
 * Watermark = max event time − allowedLatenessMs. A late event (time below the watermark) is scored with the state
 * as it is and never added, so it cannot change later results.
 *
 * Memory: logs grow by a quarter of their events at a time (JS arrays grown by push keep up to half their capacity
 * spare), and events past the attributes horizon shrink to their time.
 */
export class CardWindows {
  readonly #cards = new Map<string, CardLog>()
  readonly stride: number
  readonly #horizonMs: number
  readonly #attributesHorizonMs: number
  #sweep: MapIterator<[string, CardLog]> | undefined
  #maxEventTimeMs = -Infinity
  /** Slots in use over every log: what the byte estimate counts. */
  #usedSlots = 0
  #late = 0
  #lastCardId: string | undefined
  #lastLog: CardLog | undefined

  constructor(readonly options: CardWindowsOptions) {
    this.stride = 1 + (options.valuesPerEvent ?? 1)
    this.#horizonMs = options.horizonMs
    this.#attributesHorizonMs = Math.min(options.attributesHorizonMs ?? options.horizonMs, options.horizonMs)
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

  /**
   * An estimate for the byte-budget metric: slots in use (+1/8 for spare capacity) and a per-card overhead, not
   * exact V8 accounting. It depends on the events held only, not on allocation history: budget evictions after a
   * restore from a snapshot (whose logs come back without spare capacity) must be the same as without one.
   */
  get estimatedBytes(): number {
    return this.#cards.size * CARD_OVERHEAD_BYTES + this.#usedSlots * 9
  }

  isLate(eventTimeMs: number): boolean {
    return eventTimeMs < this.watermarkMs
  }

  /** A card's log; remembered, so the `add` that follows a feature row's scan does not look the card up again. */
  history(cardId: string): readonly number[] | undefined {
    if (cardId === this.#lastCardId) return this.#lastLog
    const log = this.#cards.get(cardId)
    this.#lastCardId = cardId
    this.#lastLog = log
    return log
  }

  /** Adds the event (`values`: the amount, then the attributes) unless it is late; returns whether it was late. */
  add(cardId: string, eventTimeMs: number, values: ArrayLike<number>): { late: boolean } {
    if (this.isLate(eventTimeMs)) {
      this.#late++
      return { late: true }
    }
    if (eventTimeMs > this.#maxEventTimeMs) this.#maxEventTimeMs = eventTimeMs
    let log = cardId === this.#lastCardId ? this.#lastLog : this.#cards.get(cardId)
    if (log) this.#compact(log)
    const stride = this.stride
    const used = log ? log[0]! : LOG_HEADER
    const needed = used + stride
    // Grown when full; copied smaller when under half used (a bursty card would otherwise keep its peak).
    if (!log || needed > log.length || 2 * needed < log.length) {
      log = this.#reallocate(log, needed)
      this.#cards.set(cardId, log)
    }
    this.#lastCardId = cardId
    this.#lastLog = log
    // Events mostly arrive in time order: the common case appends; an out-of-order one shifts the later events.
    let at = used
    if (used > fullEventsStart(log) && log[used - stride]! > eventTimeMs) {
      at = fullEventsStart(log) + stride * upperBound(log, stride, eventTimeMs)
      for (let i = used - 1; i >= at; i--) log[i + stride] = log[i]!
    }
    log[at] = eventTimeMs
    for (let v = 1; v < stride; v++) log[at + v] = values[v - 1]!
    log[0] = used + stride
    this.#usedSlots += stride
    return { late: false }
  }

  /**
   * Drops keys whose newest event can no longer fall in any on-time window (the per-key TTL = the longest span).
   * With `maxKeys`, visits at most that many keys, resuming where the last call stopped: a sweep in slices, so the
   * cost per record stays constant with millions of keys (a Map iterator stays valid across deletions).
   */
  evictIdle(maxKeys = Infinity): number {
    const horizonMs = this.watermarkMs - this.#horizonMs
    if (maxKeys === Infinity) this.#sweep = undefined
    let evicted = 0
    for (let visited = 0; visited < maxKeys; visited++) {
      this.#sweep ??= this.#cards.entries()
      const next = this.#sweep.next()
      if (next.done) {
        this.#sweep = undefined
        break
      }
      const [cardId, log] = next.value
      if (newestEventMs(log, this.stride) <= horizonMs) {
        this.#delete(cardId, log)
        evicted++
      }
    }
    return evicted
  }

  toSnapshot(): CardWindowsSnapshot {
    return { maxEventTimeMs: this.#maxEventTimeMs, late: this.#late, stride: this.stride, cards: [...this.#cards].map(([id, log]) => [id, log.slice(0, log[0]!)] as const) }
  }

  static fromSnapshot(options: CardWindowsOptions, snapshot: CardWindowsSnapshot): CardWindows {
    const windows = new CardWindows(options)
    if (snapshot.stride !== windows.stride) throw new Error(`snapshot stride ${snapshot.stride} does not match the event layout (${windows.stride})`)
    windows.#maxEventTimeMs = snapshot.maxEventTimeMs
    windows.#late = snapshot.late
    for (const [id, log] of snapshot.cards) {
      if (log.length !== log[0] || (log.length - fullEventsStart(log)) % windows.stride !== 0) throw new Error(`snapshot log of card ${id} is malformed`)
      windows.#cards.set(id, [...log])
      windows.#usedSlots += log.length
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
    const byNewest = [...this.#cards].map(([id, log]) => [id, log, newestEventMs(log, this.stride)] as const).sort((a, b) => a[2] - b[2])
    const target = maxBytes * 0.9
    for (const [id, log] of byNewest) {
      if (this.estimatedBytes <= target) break
      this.#delete(id, log)
      evicted++
    }
    return evicted
  }

  #delete(cardId: string, log: CardLog): void {
    this.#cards.delete(cardId)
    this.#usedSlots -= log[0]!
    if (cardId === this.#lastCardId) this.#lastCardId = undefined
  }

  /**
   * A copy of the log (or a new one) with room for `needed` slots and a quarter more, so appends reallocate
   * O(log n) times per card while the spare capacity stays small.
   */
  #reallocate(log: CardLog | undefined, needed: number): CardLog {
    const capacity = needed + this.stride * Math.floor((needed - LOG_HEADER) / (4 * this.stride))
    const next = newLog(capacity)
    if (log) {
      for (let i = 0; i < log[0]!; i++) next[i] = log[i]!
    } else this.#usedSlots += LOG_HEADER
    return next
  }

  /**
   * In place: drops events at or below watermark − horizon, and strips events at or below watermark − attributes
   * horizon down to their time. Neither can be inside a window of a non-late event.
   */
  #compact(log: CardLog): void {
    const watermarkMs = this.watermarkMs
    const dropAtOrBefore = watermarkMs - this.#horizonMs
    const stripAtOrBefore = watermarkMs - this.#attributesHorizonMs
    const stride = this.stride
    const timeOnly = log[1]!
    const start = LOG_HEADER + timeOnly
    const used = log[0]!
    if (!(timeOnly > 0 && log[LOG_HEADER]! <= dropAtOrBefore) && !(used > start && log[start]! <= stripAtOrBefore)) return
    let write = LOG_HEADER
    for (let i = LOG_HEADER; i < start; i++) if (log[i]! > dropAtOrBefore) log[write++] = log[i]!
    let read = start
    for (; read < used && log[read]! <= stripAtOrBefore; read += stride) if (log[read]! > dropAtOrBefore) log[write++] = log[read]!
    const newTimeOnly = write - LOG_HEADER
    for (; read < used; read++) log[write++] = log[read]!
    this.#usedSlots -= used - write
    log[0] = write
    log[1] = newTimeOnly
  }
}

/** The newest event's time: the last full event's, or the last time-only one's; -Infinity when the log is empty. */
function newestEventMs(log: readonly number[], stride: number): number {
  const start = fullEventsStart(log)
  const used = log[0]!
  if (used > start) return log[used - stride]!
  return start > LOG_HEADER ? log[start - 1]! : -Infinity
}

/** Index (in full events) of the first full event later than `value`. */
export function upperBound(log: readonly number[], stride: number, value: number): number {
  const start = fullEventsStart(log)
  let lo = 0
  let hi = (log[0]! - start) / stride
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (log[start + stride * mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** How many events of the log (time-only and full) have a time at or before `timeMs`. */
export function countAtOrBefore(log: readonly number[], stride: number, timeMs: number): number {
  const start = fullEventsStart(log)
  const timeOnly = start - LOG_HEADER
  if (log[0]! > start && log[start]! <= timeMs) return timeOnly + upperBound(log, stride, timeMs)
  let lo = 0
  let hi = timeOnly
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (log[LOG_HEADER + mid]! <= timeMs) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The time of the log's index-th event, counting the time-only events first. */
export function timeAt(log: readonly number[], stride: number, index: number): number {
  const timeOnly = fullEventsStart(log) - LOG_HEADER
  return index < timeOnly ? log[LOG_HEADER + index]! : log[fullEventsStart(log) + stride * (index - timeOnly)]!
}

/** Packed-double arrays of exact length: a slice of a packed-double template (an Array(n) starts holey and small-integer). */
const TEMPLATE: number[] = Array.from({ length: 4096 }, () => NaN)

function newLog(capacity: number): CardLog {
  const log = capacity <= TEMPLATE.length ? TEMPLATE.slice(0, capacity) : Array.from({ length: capacity }, () => NaN)
  log[0] = LOG_HEADER
  log[1] = 0
  return log
}
