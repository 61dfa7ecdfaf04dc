import { CardEviction } from './card-eviction.js'
import { compactLog, insertEvent, LOG_HEADER, logEnd } from './card-log.js'
import { CardPrefetch } from './card-prefetch.js'
import { CardTable } from './card-table.js'
import { restoreCards, snapshotCards, type CardWindowsSnapshot } from './card-windows-snapshot.js'

export { countAtOrBefore, LOG_HEADER } from './card-log.js'
export { WARM_MAX } from './card-prefetch.js'
export type { CardWindowsSnapshot } from './card-windows-snapshot.js'

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
  /** log2 of the slots of a memory page (CardArena; 2 MiB pages by default). */
  readonly pageBits?: number
  /** log2 of the card table's first size (1024 slots by default; tests start small so that it grows and fills). */
  readonly tableBits?: number
}

/**
 * The card event log: every on-time event of each card, with the attributes its windows read (a merchant hash,
 * packed codes…), in partition-local memory. One log serves every window group of the feature set, so a
 * transaction costs one lookup however many features it has (see compile-windows.ts).
 *
 * A facade over a small storage engine, one concept a file: the table of cards and their blocks (card-table.ts),
 * each card's log and its compaction (card-log.ts), the prefetch of the cards a poll will look up
 * (card-prefetch.ts), idle and budget eviction (card-eviction.ts) and the snapshot codec (card-windows-snapshot.ts).
 *
 * Watermark = max event time − allowedLatenessMs. A late event (time below the watermark) is scored with the state
 * as it is and never added, so it cannot change later results.
 */
export class CardWindows {
  readonly stride: number
  readonly #horizonMs: number
  readonly #attributesHorizonMs: number
  readonly #table: CardTable
  readonly #prefetch: CardPrefetch
  readonly #eviction: CardEviction
  #maxEventTimeMs = -Infinity
  #late = 0
  /** The last card located: its id and table slot (-1 when absent), valid while the table keeps its layout. */
  #lastCardId: string | undefined
  #lastSlot = -1
  #lastLayout = -1

  constructor(readonly options: CardWindowsOptions) {
    this.stride = 1 + (options.valuesPerEvent ?? 1)
    this.#table = new CardTable({ stride: this.stride, pageBits: options.pageBits, tableBits: options.tableBits })
    this.#prefetch = new CardPrefetch(this.#table)
    this.#horizonMs = options.horizonMs
    this.#attributesHorizonMs = Math.min(options.attributesHorizonMs ?? options.horizonMs, options.horizonMs)
    this.#eviction = new CardEviction(this.#table, this.#horizonMs)
  }

  get watermarkMs(): number {
    return this.#maxEventTimeMs - this.options.allowedLatenessMs
  }

  /** Events at or below this time can be in no window of an on-time event: they are dropped (when swept or compacted) and no window reads them. */
  get expiredAtOrBeforeMs(): number {
    return this.watermarkMs - this.#horizonMs
  }

  /**
   * Events at or below this time may have kept only their time (compaction strips them): windows reading more than
   * times ignore them, so a late event's windows do not depend on when its card was last compacted.
   */
  get strippedAtOrBeforeMs(): number {
    return this.watermarkMs - this.#attributesHorizonMs
  }

  get lateEvents(): number {
    return this.#late
  }

  get cardCount(): number {
    return this.#table.size
  }

  /** Slots of the card table: it doubles at half full and, after a peak, halves while under an eighth full. */
  get tableSlots(): number {
    return this.#table.mask + 1
  }

  /**
   * An estimate for the byte budget: the logs' and ids' slots, a table entry and a block header per card, and the
   * spare capacity blocks keep on average; free space in the pages is not counted (allocatedBytes has it). It depends
   * on the events and ids held only, not on allocation history: budget evictions after a restore from a snapshot
   * (whose logs come back without spare capacity) must be the same as without one.
   */
  get estimatedBytes(): number {
    return this.#table.estimatedBytes
  }

  /**
   * What the state holds in memory: its pages (free space included: freed blocks wait for reuse or evacuation) and
   * its table. Unlike estimatedBytes it depends on allocation history, so it is for operators, not for the budget.
   */
  get allocatedBytes(): number {
    return this.#table.allocatedBytes
  }

  /** After `locate`: the page holding the card's log (read by the compiled window code). */
  get page(): Float64Array {
    return this.#table.page
  }

  isLate(eventTimeMs: number): boolean {
    return eventTimeMs < this.watermarkMs
  }

  /**
   * Finds a card's log: returns its base in `this.page`, or -1 when the card has none. Remembered, so the `add`
   * that follows a feature row's scan does not look the card up again.
   */
  locate(cardId: string): number {
    const table = this.#table
    if (cardId !== this.#lastCardId || this.#lastLayout !== table.layout) {
      this.#lastCardId = cardId
      this.#lastSlot = this.#prefetch.slotOf(cardId)
      this.#lastLayout = table.layout
    }
    return this.#lastSlot < 0 ? -1 : table.at(this.#lastSlot)
  }

  /**
   * Loads the table slots, then the blocks, of the (first WARM_MAX) cards the next transactions will look up, and
   * finds them; changes nothing a lookup returns. See CardPrefetch.
   */
  warm(cards: readonly { readonly card_id: string }[]): void {
    this.#prefetch.warm(cards)
  }

  /** A copy of a card's log (tests and snapshots). */
  logOf(cardId: string): number[] | undefined {
    const base = this.locate(cardId)
    return base < 0 ? undefined : Array.from(this.page.subarray(base, logEnd(this.page, base)))
  }

  /** Adds the event (`values`: the amount, then the attributes) unless it is late; returns whether it was late. */
  add(cardId: string, eventTimeMs: number, values: ArrayLike<number>): boolean {
    if (this.isLate(eventTimeMs)) {
      this.#late++
      return true
    }
    if (eventTimeMs > this.#maxEventTimeMs) this.#maxEventTimeMs = eventTimeMs
    const stride = this.stride
    const table = this.#table
    let base = this.locate(cardId)
    if (base < 0) {
      this.#lastSlot = table.insert(cardId, LOG_HEADER + stride)
      this.#lastLayout = table.layout
      base = table.at(this.#lastSlot)
    } else {
      // Events no window of an on-time event reads go, or keep only their time, before the log grows.
      table.logResized(-compactLog(table.page, base, stride, this.expiredAtOrBeforeMs, this.strippedAtOrBeforeMs))
      base = table.fit(this.#lastSlot, base, logEnd(table.page, base) - base + stride)
    }
    insertEvent(table.page, base, stride, eventTimeMs, values)
    table.logResized(stride)
    table.noteEvent(this.#lastSlot, eventTimeMs)
    return false
  }

  /**
   * Drops cards whose newest event can no longer fall in any on-time window (the per-key TTL = the longest span).
   * With `maxSlots`, visits at most that many table slots, resuming where the last call stopped. See
   * CardEviction.evictIdle.
   */
  evictIdle(maxSlots = Infinity): number {
    return this.#eviction.evictIdle(this.watermarkMs, maxSlots)
  }

  /**
   * Budget policy: when the estimate exceeds `maxBytes`, idle cards go first, then the cards whose newest event is
   * oldest (ties by card id), until the estimate is under 90 % of the budget. Returns how many active cards it
   * dropped, which the caller counts and logs. See CardEviction.enforceBudget.
   */
  enforceBudget(maxBytes: number): number {
    return this.#eviction.enforceBudget(this.watermarkMs, maxBytes)
  }

  toSnapshot(): CardWindowsSnapshot {
    return {
      maxEventTimeMs: this.#maxEventTimeMs,
      late: this.#late,
      stride: this.stride,
      cards: snapshotCards(this.#table),
    }
  }

  static fromSnapshot(options: CardWindowsOptions, snapshot: CardWindowsSnapshot): CardWindows {
    const windows = new CardWindows(options)
    restoreCards(windows.#table, snapshot)
    windows.#maxEventTimeMs = snapshot.maxEventTimeMs
    windows.#late = snapshot.late
    return windows
  }
}
