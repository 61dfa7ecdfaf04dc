import { CardArena, copySlots } from './card-arena.js'
import { CardKey, readStoredId, storedIdHash, storedIdSlots } from './card-key.js'

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

/** Everything a CardWindows holds, as plain data for a snapshot. */
export interface CardWindowsSnapshot {
  readonly maxEventTimeMs: number
  readonly late: number
  /** Numbers per event (time included): a snapshot of another layout cannot be loaded. */
  readonly stride: number
  /** [card_id, log] per card, each log as described at CardWindows (without spare capacity). */
  readonly cards: readonly (readonly [string, readonly number[]])[]
}

/** Slots before a log's times: its used length and its count of time-only events. */
export const LOG_HEADER = 2
/**
 * Per card, besides its log and id: the block's capacity slot (8 B) and a table entry at the table's average load
 * (12 B at 3/8: 32 B). Its spare capacity is estimated apart (see estimatedBytes).
 */
const CARD_OVERHEAD_BYTES = 40
const EMPTY = -1
/** A table entry whose card enforceBudget dropped, until the table is rebuilt without it (block references are ≥ 0). */
const EVICTED = -2
/**
 * A table entry: [32-bit id hash, block reference, minute of the card's newest event]. The minute lets the idle sweep
 * pass over active cards reading the table alone: reading each card's block cost a cache miss per card and a twentieth
 * of an update.
 */
const ENTRY = 3
const MINUTE_MS = 60_000
/**
 * Cards one `warm` call loads: their table and block lines (~36 KiB for 64 cards of 20 events) stay in L2 until their
 * turn comes. 32 and 128 were not faster at 100k cards.
 */
export const WARM_MAX = 64
const NO_EVENT_MINUTE = -0x80000000
/** Doubles in a 64-byte cache line. */
const SLOTS_PER_LINE = 8
/** Slots of one block `warm` loads at most: 32 lines (a card of 20 events a fortnight takes 8). */
const WARM_SLOTS_MAX = 32 * SLOTS_PER_LINE
/** Open addressing stays at or below this load, so a lookup probes ~1.5 slots, mostly in one cache line. */
const MAX_LOAD = 0.5
/** Block moves of one compaction noted before the table follows them (see #applyMoves). */
const MOVES_BATCH = 64

/**
 * The card event log: every on-time event of each card, with the attributes its windows read (a merchant hash,
 * packed codes…), in partition-local memory. One log serves every window group of the feature set, so a
 * transaction costs one lookup however many features it has (see compile-windows.ts).
 *
 * A card's log, at `base` of a page: [used length, n, time₁ … timeₙ, then events of `stride` numbers: time, amount,
 * attribute columns…], oldest first. The n time-only events are older than the attributes horizon: only count
 * windows reaching further back read them, so their amounts and attributes are dropped.
 *
 * Layout, for speed and memory: logs live in blocks of a CardArena, each block [capacity, the card id as CardKey
 * stores it (6 latin-1 characters a slot), log…]; an open-addressing table of (32-bit id hash, block) finds them. A
 * lookup costs a table slot and the block's first cache line (the id is compared there); a Map of strings to arrays
 * cost ~5 dependent cache misses (bucket, entries, key strings of the chain, array, elements) and was a quarter of an
 * update.
 *
 * Watermark = max event time − allowedLatenessMs. A late event (time below the watermark) is scored with the state
 * as it is and never added, so it cannot change later results.
 */
export class CardWindows {
  readonly stride: number
  readonly #horizonMs: number
  readonly #attributesHorizonMs: number
  readonly #arena: CardArena
  /** Entries of ENTRY ints (see there); reference EMPTY marks a free slot. 12 bytes a slot. */
  #table: Int32Array
  #mask: number
  /** The table's first size: it never shrinks below it. */
  readonly #minSlots: number
  #size = 0
  #sweepSlot = 0
  #sweepPausedUntilMs = -Infinity
  #maxEventTimeMs = -Infinity
  /** Slots in use over every log: what the byte estimate counts. */
  #usedSlots = 0
  /** Slots of the stored card ids, over every block. */
  #idSlots = 0
  #late = 0
  readonly #warmRefs = new Int32Array(WARM_MAX)
  /** Block moves of the running compaction not yet in the table: [id hash, from, to] each (see #relocated). */
  readonly #moves = new Int32Array(3 * MOVES_BATCH)
  #moveCount = 0
  /**
   * The sum of values loaded only to bring their lines into the cache (warm, #applyMoves): kept so the loads are not
   * optimised away as dead.
   */
  #loadSink = 0
  /** The cards of the last `warm`, encoded, and their table slots (-1: absent then, so unknown now). */
  readonly #warmKeys = Array.from({ length: WARM_MAX }, () => new CardKey())
  readonly #warmSlots = new Int32Array(WARM_MAX)
  #warmCount = 0
  /** The warmed card the next lookup most likely is: lookups come in the order the cards were warmed. */
  #warmNext = 0
  /** Changes whenever table entries move (deletion, growth): warmed slots of another layout are not used. */
  #tableLayout = 0
  #warmLayout = -1
  /** The id being looked up or inserted, encoded as blocks store it. */
  readonly #key = new CardKey()
  /** The last card located: its id, table slot (-1 when absent) and block. */
  #lastCardId: string | undefined
  #lastSlot = -1
  /** After `locate`: the page holding the card's log (read by the compiled window code). */
  page: Float64Array = EMPTY_LOG

  constructor(readonly options: CardWindowsOptions) {
    this.stride = 1 + (options.valuesPerEvent ?? 1)
    this.#arena = new CardArena(options.pageBits === undefined ? {} : { pageBits: options.pageBits })
    this.#minSlots = 1 << (options.tableBits ?? 10)
    this.#mask = this.#minSlots - 1
    this.#table = new Int32Array(ENTRY * (this.#mask + 1)).fill(EMPTY)
    this.#horizonMs = options.horizonMs
    this.#attributesHorizonMs = Math.min(options.attributesHorizonMs ?? options.horizonMs, options.horizonMs)
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
    return this.#size
  }

  /** Slots of the card table: it doubles at half full and, after a peak, halves while under an eighth full. */
  get tableSlots(): number {
    return this.#mask + 1
  }

  /**
   * An estimate for the byte budget: the logs' and ids' slots, a table entry and a block header per card, and the
   * spare capacity blocks keep on average; free space in the pages is not counted (allocatedBytes has it). It depends
   * on the events and ids held only, not on allocation history: budget evictions after a restore from a snapshot
   * (whose logs come back without spare capacity) must be the same as without one.
   */
  get estimatedBytes(): number {
    return this.#estimate(this.#size, this.#usedSlots, this.#idSlots)
  }

  /** The estimate of `cards` cards holding `usedSlots` log slots and `idSlots` id slots: linear in all three. */
  #estimate(cards: number, usedSlots: number, idSlots: number): number {
    // Spare capacity: a block grows by two events at least and an eighth of its log, so on average about one event
    // and a sixteenth of the log is unused.
    const spareSlots = cards * this.stride + usedSlots / 16
    return cards * CARD_OVERHEAD_BYTES + (usedSlots + idSlots + spareSlots) * 8
  }

  /**
   * What the state holds in memory: its pages (free space included: freed blocks wait for reuse or evacuation) and
   * its table. Unlike estimatedBytes it depends on allocation history, so it is for operators, not for the budget.
   */
  get allocatedBytes(): number {
    return this.#arena.pageSlots * 8 + this.#table.byteLength
  }

  isLate(eventTimeMs: number): boolean {
    return eventTimeMs < this.watermarkMs
  }

  /**
   * Finds a card's log: returns its base in `this.page`, or -1 when the card has none. Remembered, so the `add`
   * that follows a feature row's scan does not look the card up again.
   */
  locate(cardId: string): number {
    if (cardId !== this.#lastCardId) {
      this.#lastCardId = cardId
      this.#lastSlot = this.#warmedSlot(cardId)
    }
    if (this.#lastSlot < 0) return -1
    const ref = this.#table[ENTRY * this.#lastSlot + 1]!
    this.page = this.#arena.pageOf(ref)
    return logBase(this.page, this.#arena.offsetOf(ref))
  }

  /**
   * Loads the table slots, then the blocks, of the (first WARM_MAX) cards the next transactions will look up, and
   * finds them; changes nothing a lookup returns. A lookup waits on cache misses (slot, block lines) that no
   * computation hides; issued here for a few dozen cards in tight loops of independent loads, the CPU overlaps them
   * (measured at 100k cards: +11 % updates/s for slots and first lines, +14 % more for every line, +8–13 % more once
   * the blocks loaded were the cards' own, found by hash, not their home slots'). The lookups that follow, in the same
   * order, take the slots found here instead of hashing each id again (+7 %).
   */
  warm(cards: readonly { readonly card_id: string }[]): void {
    const count = Math.min(cards.length, WARM_MAX)
    const refs = this.#warmRefs
    const keys = this.#warmKeys
    // The ids' characters first, a load per id with nothing waiting on it: the transactions were decoded with the rest
    // of their poll and their id strings have mostly left the cache; encoded straight away, each id's miss was waited
    // on in turn.
    let touched = 0
    for (let i = 0; i < count; i++) {
      const id = cards[i]!.card_id
      touched += id.charCodeAt(id.length - 1)
    }
    for (let i = 0; i < count; i++) {
      keys[i]!.set(cards[i]!.card_id)
      refs[i] = keys[i]!.hash
    }
    // Each card's table slot by its 32-bit hash alone (the table's lines only): the block found is the card's unless
    // two ids share the hash, which the check below settles. Loading the home slot's block instead warmed another
    // card's block for every card a collision displaced (19 % of them at 100k cards, 25 % at the highest load).
    const table = this.#table
    const mask = this.#mask
    const slots = this.#warmSlots
    for (let i = 0; i < count; i++) {
      const hash = refs[i]!
      let slot = hash & mask
      while (table[ENTRY * slot + 1] !== EMPTY && table[ENTRY * slot] !== hash) slot = (slot + 1) & mask
      slots[i] = slot
      refs[i] = table[ENTRY * slot + 1]!
    }
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!
      if (ref !== EMPTY) touched += this.#arena.pageOf(ref)[this.#arena.offsetOf(ref) + 1]!
    }
    // Then every other line of the blocks: the pass reads the log's last week and binary-searches the rest, one miss
    // per line otherwise. The capacity bounds the block without a dependent load of the log's header; a long log's
    // first lines only, so that one hot card cannot push the other cards' lines out of the cache.
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!
      if (ref === EMPTY) continue
      const page = this.#arena.pageOf(ref)
      const offset = this.#arena.offsetOf(ref)
      const end = offset + Math.min(page[offset]! | 0, WARM_SLOTS_MAX)
      for (let slot = offset + SLOTS_PER_LINE; slot < end; slot += SLOTS_PER_LINE) touched += page[slot]!
      touched += page[end - 1]!
    }
    this.#loadSink = touched
    // With every line at hand, the ids: a slot whose block holds another id (a hash shared) is searched on from the start.
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!
      if (ref === EMPTY) slots[i] = -1
      else if (!keys[i]!.matches(this.#arena.pageOf(ref), this.#arena.offsetOf(ref) + 1)) slots[i] = this.#probe(keys[i]!)
    }
    this.#warmCount = count
    this.#warmNext = 0
    this.#warmLayout = this.#tableLayout
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
    let base = this.locate(cardId)
    if (base < 0) base = this.#insert(cardId, LOG_HEADER + stride)
    else {
      this.#compact(this.page, base)
      const needed = logEnd(this.page, base) - base + stride
      const offset = this.#arena.offsetOf(this.#table[ENTRY * this.#lastSlot + 1]!)
      const capacity = (this.page[offset]! | 0) - (base - offset)
      // Grown when full; moved to a smaller block when under half used (a bursty card would otherwise keep its peak).
      if (needed > capacity || 2 * needed < capacity - 4) base = this.#move(needed)
    }
    const page = this.page
    const used = logEnd(page, base) - base
    // Events mostly arrive in time order: the common case appends; an out-of-order one shifts the later events.
    let at = base + used
    if (used > fullEventsStart(page, base) - base && page[at - stride]! > eventTimeMs) {
      at = fullEventsStart(page, base) + stride * upperBound(page, base, stride, eventTimeMs)
      for (let i = base + used - 1; i >= at; i--) page[i + stride] = page[i]!
    }
    page[at] = eventTimeMs
    for (let v = 1; v < stride; v++) page[at + v] = values[v - 1]!
    page[base] = used + stride
    this.#usedSlots += stride
    const minute = minuteOf(eventTimeMs)
    if (minute > this.#table[ENTRY * this.#lastSlot + 2]!) this.#table[ENTRY * this.#lastSlot + 2] = minute
    return false
  }

  /**
   * Drops cards whose newest event can no longer fall in any on-time window (the per-key TTL = the longest span).
   * With `maxSlots`, visits at most that many table slots, resuming where the last call stopped: a sweep in slices,
   * so the cost per record stays constant with millions of cards. After a whole pass, slices wait until the
   * watermark has moved 1/8 of the horizon (few cards can have turned idle before): an idle card stays at most that
   * and one pass longer.
   */
  evictIdle(maxSlots = Infinity): number {
    const horizonMs = this.watermarkMs - this.#horizonMs
    const cutoffMinute = minuteOf(horizonMs)
    if (maxSlots === Infinity) this.#sweepSlot = 0
    const paused = maxSlots !== Infinity && this.watermarkMs < this.#sweepPausedUntilMs
    const visits = paused ? 0 : Math.min(maxSlots, this.#mask + 1)
    let evicted = 0
    for (let advanced = 0; advanced < visits; ) {
      const slot = this.#sweepSlot
      // A card whose newest minute is past the cutoff's is active: its block is not read.
      if (this.#table[ENTRY * slot + 1] !== EMPTY && this.#table[ENTRY * slot + 2]! <= cutoffMinute && this.#newestEventMs(slot) <= horizonMs) {
        this.#deleteSlot(slot)
        evicted++
        // Deleting shifts later entries of the probe run back: this slot may hold one now.
        if (this.#table[ENTRY * slot + 1] !== EMPTY) continue
      }
      if (slot === this.#mask) {
        this.#sweepSlot = 0
        this.#sweepPausedUntilMs = this.watermarkMs + this.#horizonMs / 8
        // At the end of a pass, not mid-way: rebuilding the table restarts the sweep from slot 0.
        this.#shrinkTableIfSparse()
        if (maxSlots !== Infinity) break
      } else this.#sweepSlot = slot + 1
      advanced++
    }
    // Cards that grew or left freed their blocks: the emptiest pages move out, a few at a time.
    if (this.#arena.compact((from, to) => this.#relocated(from, to)) > 0) {
      this.#applyMoves()
      this.#lastCardId = undefined
    }
    return evicted
  }

  /**
   * The card whose block moved from `from` to `to` will point to its new place: noted now (the id is read at `to`
   * while it is there: a page emptied later in the same compaction can be reused), applied in order, in batches.
   */
  #relocated(from: number, to: number): void {
    const moves = this.#moves
    const at = 3 * this.#moveCount
    moves[at] = storedIdHash(this.#arena.pageOf(to), this.#arena.offsetOf(to) + 1)
    moves[at + 1] = from
    moves[at + 2] = to
    if (++this.#moveCount === MOVES_BATCH) this.#applyMoves()
  }

  /**
   * Points the table entries of the noted moves to their blocks' new places, in the order the moves happened. Each
   * entry was a cache miss on its own (an evacuated page moves thousands of blocks); the home slots of a batch are
   * loaded first, in a loop of independent loads, as warm does.
   */
  #applyMoves(): void {
    const moves = this.#moves
    const table = this.#table
    const mask = this.#mask
    let touched = 0
    for (let i = 0; i < this.#moveCount; i++) touched += table[ENTRY * (moves[3 * i]! & mask) + 1]!
    this.#loadSink = touched
    for (let i = 0; i < this.#moveCount; i++) {
      const hash = moves[3 * i]!
      const from = moves[3 * i + 1]!
      for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
        if (table[ENTRY * slot + 1] === from && table[ENTRY * slot] === hash) {
          table[ENTRY * slot + 1] = moves[3 * i + 2]!
          break
        }
        if (table[ENTRY * slot + 1] === EMPTY) throw new Error(`card arena: moved block ${from} has no table entry`)
      }
    }
    this.#moveCount = 0
  }

  toSnapshot(): CardWindowsSnapshot {
    const cards: (readonly [string, number[]])[] = []
    for (let slot = 0; slot <= this.#mask; slot++) {
      if (this.#table[ENTRY * slot + 1] === EMPTY) continue
      const { page, offset } = this.#block(slot)
      const base = logBase(page, offset)
      cards.push([readStoredId(page, offset + 1), Array.from(page.subarray(base, logEnd(page, base)))])
    }
    return { maxEventTimeMs: this.#maxEventTimeMs, late: this.#late, stride: this.stride, cards }
  }

  static fromSnapshot(options: CardWindowsOptions, snapshot: CardWindowsSnapshot): CardWindows {
    const windows = new CardWindows(options)
    if (snapshot.stride !== windows.stride) throw new Error(`snapshot stride ${snapshot.stride} does not match the event layout (${windows.stride})`)
    windows.#maxEventTimeMs = snapshot.maxEventTimeMs
    windows.#late = snapshot.late
    for (const [id, log] of snapshot.cards) {
      if (log.length !== log[0] || log[1]! < 0 || (log.length - LOG_HEADER - log[1]!) % windows.stride !== 0) throw new Error(`snapshot log of card ${id} is malformed`)
      const base = windows.#insert(id, log.length)
      windows.page.set(log, base)
      windows.#usedSlots += log.length - LOG_HEADER
      windows.#table[ENTRY * windows.#lastSlot + 2] = minuteOf(windows.#newestEventMs(windows.#lastSlot))
    }
    windows.#lastCardId = undefined
    return windows
  }

  /**
   * Budget policy: when the estimate exceeds `maxBytes`, idle cards go first, then the cards whose newest event is
   * oldest (ties by card id), until the estimate is under 90 % of the budget. Features of an evicted card restart
   * from empty (as for a card never seen), so a budget that bites trades exactness for memory; returns how many
   * active cards it dropped (idle ones are not counted), which the caller counts and logs.
   */
  enforceBudget(maxBytes: number): number {
    if (this.estimatedBytes <= maxBytes) return 0
    // Idle cards are past their TTL: dropping them now is no budget eviction (their features start from empty anyway).
    this.evictIdle()
    if (this.estimatedBytes <= maxBytes) return 0
    // Eviction order: the card whose newest event is oldest first, ties by card id. Dropped until the estimate is
    // under 90 % of the budget, so the cards to drop are those whose newest event is in a minute before a cut-off
    // minute, then of the cards in that minute the first in order. The minute is in the table; the cut-off is the
    // first minute by which the bytes of the cards up to it suffice, and only the cut-off minute's cards are read for
    // their time and id. Sorting every card with a comparator, reading each one's newest event, took 1.3 s for a
    // million, in the event loop. Typed arrays and indexes throughout, not an object per card.
    const target = maxBytes * 0.9
    const before = this.estimatedBytes
    const n = this.#size
    const slots = new Int32Array(n)
    const minutes = new Int32Array(n)
    for (let slot = 0, i = 0; slot <= this.#mask; slot++) {
      if (this.#table[ENTRY * slot + 1] === EMPTY) continue
      slots[i] = slot
      minutes[i++] = this.#table[ENTRY * slot + 2]!
    }
    const { usedSlots, idSlots } = this.#blockSlots(slots)
    // The bytes of each distinct minute's cards, the minutes ascending (as small integers: a Map of byte totals kept
    // each one as a heap number, a third of a second for a million cards).
    const distinctMinutes = distinctSorted(minutes)
    const minuteIndex = new Map<number, number>()
    distinctMinutes.forEach((minute, i) => minuteIndex.set(minute, i))
    const bytesByMinute = new Float64Array(distinctMinutes.length)
    for (let i = 0; i < n; i++) bytesByMinute[minuteIndex.get(minutes[i]!)!]! += this.#estimate(1, usedSlots[i]!, idSlots[i]!)
    // The first minute by which dropping every card up to it frees enough (the newest if none does). As the check
    // below reads it after the drops: the estimate is a sum of halves, so both are exact.
    let cutoff = distinctMinutes[distinctMinutes.length - 1]!
    let freed = 0
    for (let m = 0; m < distinctMinutes.length; m++) {
      freed += bytesByMinute[m]!
      if (before - freed <= target) {
        cutoff = distinctMinutes[m]!
        break
      }
    }
    // Entries are marked, then the table is rebuilt once: deleting one card at a time shifted the entries after it
    // and took seconds for a few hundred thousand.
    const dropped: number[] = []
    const atCutoff: { slot: number; newest: number; id: string }[] = []
    for (let i = 0; i < n; i++) {
      if (minutes[i]! < cutoff) dropped.push(i)
      else if (minutes[i] === cutoff) atCutoff.push({ slot: slots[i]!, newest: this.#newestEventMs(slots[i]!), id: this.#idAt(slots[i]!) })
    }
    this.#releaseAll(dropped, slots, usedSlots, idSlots)
    let evicted = dropped.length
    atCutoff.sort((a, b) => a.newest - b.newest || compareIds(a.id, b.id))
    for (const { slot } of atCutoff) {
      if (this.estimatedBytes <= target) break
      this.#release(slot)
      this.#table[ENTRY * slot + 1] = EVICTED
      evicted++
    }
    this.#resizeTable(this.#sparseTableSlots() ?? this.#mask + 1)
    return evicted
  }

  /**
   * The log and id slots of the cards in `slots`, read from their blocks WARM_MAX at a time: first every block's id
   * header (its first line), then the log headers after them, each loop of independent loads, as warm does. One
   * card at a time, each read waited on its cache miss: 280 ms for a million cards.
   */
  #blockSlots(slots: Int32Array): { usedSlots: Int32Array; idSlots: Int32Array } {
    const usedSlots = new Int32Array(slots.length)
    const idSlots = new Int32Array(slots.length)
    for (let from = 0; from < slots.length; from += WARM_MAX) {
      const to = Math.min(slots.length, from + WARM_MAX)
      for (let i = from; i < to; i++) {
        const ref = this.#table[ENTRY * slots[i]! + 1]!
        idSlots[i] = storedIdSlots(this.#arena.pageOf(ref), this.#arena.offsetOf(ref) + 1)
      }
      for (let i = from; i < to; i++) {
        const ref = this.#table[ENTRY * slots[i]! + 1]!
        usedSlots[i] = this.#arena.pageOf(ref)[this.#arena.offsetOf(ref) + 1 + idSlots[i]!]!
      }
    }
    return { usedSlots, idSlots }
  }

  /**
   * #release for the cards at `indexes` of `slots`, whose slots #blockSlots read, marking their entries EVICTED. Each
   * block's capacity is loaded for WARM_MAX cards before they are freed (a miss each, overlapped).
   */
  #releaseAll(indexes: readonly number[], slots: Int32Array, usedSlots: Int32Array, idSlots: Int32Array): void {
    for (let from = 0; from < indexes.length; from += WARM_MAX) {
      const to = Math.min(indexes.length, from + WARM_MAX)
      let touched = 0
      for (let j = from; j < to; j++) {
        const ref = this.#table[ENTRY * slots[indexes[j]!]! + 1]!
        touched += this.#arena.pageOf(ref)[this.#arena.offsetOf(ref)]!
      }
      this.#loadSink = touched
      for (let j = from; j < to; j++) {
        const i = indexes[j]!
        this.#releaseCounted(slots[i]!, usedSlots[i]!, idSlots[i]!)
        this.#table[ENTRY * slots[i]! + 1] = EVICTED
      }
    }
  }

  /** The card id in a table slot's block. */
  #idAt(slot: number): string {
    const { page, offset } = this.#block(slot)
    return readStoredId(page, offset + 1)
  }

  #block(slot: number): { page: Float64Array; offset: number } {
    const ref = this.#table[ENTRY * slot + 1]!
    return { page: this.#arena.pageOf(ref), offset: this.#arena.offsetOf(ref) }
  }

  #newestEventMs(slot: number): number {
    const { page, offset } = this.#block(slot)
    const base = logBase(page, offset)
    const start = fullEventsStart(page, base)
    const end = logEnd(page, base)
    if (end > start) return page[end - this.stride]!
    return start > base + LOG_HEADER ? page[start - 1]! : -Infinity
  }

  /** The table slot of a card, or -1: the one `warm` found when the card is among the warmed ones. */
  #warmedSlot(cardId: string): number {
    if (this.#warmLayout === this.#tableLayout) {
      for (let i = this.#warmNext; i < this.#warmCount; i++) {
        if (this.#warmKeys[i]!.id !== cardId) continue
        this.#warmNext = i + 1
        // An absent card may have been added since.
        if (this.#warmSlots[i]! >= 0) return this.#warmSlots[i]!
        break
      }
    }
    return this.#find(cardId)
  }

  /** The table slot of a card, or -1. */
  #find(cardId: string): number {
    // Often the id encoded last: located, then inserted as a new card, or looked up again.
    if (this.#key.id !== cardId) this.#key.set(cardId)
    return this.#probe(this.#key)
  }

  #probe(key: CardKey): number {
    const hash = key.hash
    const table = this.#table
    const mask = this.#mask
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const ref = table[ENTRY * slot + 1]!
      if (ref === EMPTY) return -1
      if (table[ENTRY * slot] === hash && key.matches(this.#arena.pageOf(ref), this.#arena.offsetOf(ref) + 1)) return slot
    }
  }

  /** A new card with an empty log with room for `logSlots`: its log's base in `this.page`. */
  #insert(cardId: string, logSlots: number): number {
    if (this.#size + 1 > (this.#mask + 1) * MAX_LOAD) this.#growTable()
    const key = this.#key
    if (key.id !== cardId) key.set(cardId)
    const ref = this.#arena.allocate(1 + key.storedSlots + logSlots)
    const page = this.#arena.pageOf(ref)
    const offset = this.#arena.offsetOf(ref)
    key.write(page, offset + 1)
    const base = logBase(page, offset)
    page[base] = LOG_HEADER
    page[base + 1] = 0
    const hash = key.hash
    let slot = hash & this.#mask
    while (this.#table[ENTRY * slot + 1] !== EMPTY) slot = (slot + 1) & this.#mask
    this.#table[ENTRY * slot] = hash
    this.#table[ENTRY * slot + 1] = ref
    this.#table[ENTRY * slot + 2] = NO_EVENT_MINUTE
    this.#size++
    this.#idSlots += key.storedSlots
    this.#lastCardId = cardId
    this.#lastSlot = slot
    this.page = page
    this.#usedSlots += LOG_HEADER
    return base
  }

  /**
   * Moves the last located card's log to a block with room for `needed` log slots and an eighth more, at least two
   * events (small logs would otherwise move on every add or every other: from empty, +8–10 % with the batched
   * relocations of evacuation).
   */
  #move(needed: number): number {
    const slot = this.#lastSlot
    const oldRef = this.#table[ENTRY * slot + 1]!
    const oldPage = this.#arena.pageOf(oldRef)
    const oldOffset = this.#arena.offsetOf(oldRef)
    const oldBase = logBase(oldPage, oldOffset)
    const ref = this.#arena.allocate(oldBase - oldOffset + needed + Math.max(2 * this.stride, needed >> 3))
    const page = this.#arena.pageOf(ref)
    const offset = this.#arena.offsetOf(ref)
    // The id and the used part of the log; the new block's capacity stays in its slot 0. A loop, not set(subarray):
    // a log is a few dozen slots, and the view object cost more than the copy.
    copySlots(oldPage, oldOffset + 1, logEnd(oldPage, oldBase), page, offset + 1)
    this.#arena.free(oldRef)
    this.#table[ENTRY * slot + 1] = ref
    this.page = page
    return logBase(page, offset)
  }

  /** Frees a card's block and takes it out of the counts; its table entry is the caller's to remove. */
  #release(slot: number): void {
    const { page, offset } = this.#block(slot)
    this.#releaseCounted(slot, page[logBase(page, offset)]!, storedIdSlots(page, offset + 1))
  }

  /** #release of a card whose log and id slots the caller has read already. */
  #releaseCounted(slot: number, usedSlots: number, idSlots: number): void {
    this.#usedSlots -= usedSlots
    this.#idSlots -= idSlots
    this.#arena.free(this.#table[ENTRY * slot + 1]!)
    this.#size--
    this.#lastCardId = undefined
  }

  #deleteSlot(slot: number): void {
    const table = this.#table
    const mask = this.#mask
    this.#release(slot)
    this.#tableLayout++
    // Backward-shift deletion: later entries of the probe run move into the hole if their home allows it.
    let hole = slot
    for (let next = (hole + 1) & mask; table[ENTRY * next + 1] !== EMPTY; next = (next + 1) & mask) {
      const home = table[ENTRY * next]! & mask
      const reachable = hole <= next ? home <= hole || home > next : home <= hole && home > next
      if (reachable) {
        table[ENTRY * hole] = table[ENTRY * next]!
        table[ENTRY * hole + 1] = table[ENTRY * next + 1]!
        table[ENTRY * hole + 2] = table[ENTRY * next + 2]!
        hole = next
      }
    }
    table[ENTRY * hole + 1] = EMPTY
  }

  #growTable(): void {
    this.#resizeTable(2 * (this.#mask + 1))
  }

  /**
   * After mass eviction (a traffic peak over, a budget that bit), a table far emptier than it needs to be is rebuilt
   * at half its size or less: it would otherwise keep its peak size (12 B a slot) for good.
   */
  #shrinkTableIfSparse(): void {
    const slots = this.#sparseTableSlots()
    if (slots !== undefined) this.#resizeTable(slots)
  }

  /** The smaller size a table far emptier than it needs to be should have; undefined when it is not so empty. */
  #sparseTableSlots(): number | undefined {
    const slots = this.#mask + 1
    if (slots <= this.#minSlots || this.#size >= (slots * MAX_LOAD) / 4) return undefined
    let target = slots
    while (target > this.#minSlots && this.#size < (target * MAX_LOAD) / 4) target /= 2
    return target
  }

  #resizeTable(slots: number): void {
    const old = this.#table
    this.#table = new Int32Array(ENTRY * slots).fill(EMPTY)
    this.#mask = this.#table.length / ENTRY - 1
    for (let slot = 0; slot < old.length / ENTRY; slot++) {
      // EMPTY or EVICTED: no card.
      if (old[ENTRY * slot + 1]! < 0) continue
      const hash = old[ENTRY * slot]!
      let target = hash & this.#mask
      while (this.#table[ENTRY * target + 1] !== EMPTY) target = (target + 1) & this.#mask
      this.#table[ENTRY * target] = hash
      this.#table[ENTRY * target + 1] = old[ENTRY * slot + 1]!
      this.#table[ENTRY * target + 2] = old[ENTRY * slot + 2]!
    }
    this.#lastCardId = undefined
    this.#tableLayout++
    this.#sweepSlot = 0
  }

  /**
   * In place: drops events at or below watermark − horizon, and strips events at or below watermark − attributes
   * horizon down to their time. Neither can be inside a window of a non-late event.
   */
  #compact(page: Float64Array, base: number): void {
    const watermarkMs = this.watermarkMs
    const dropAtOrBefore = watermarkMs - this.#horizonMs
    const stripAtOrBefore = watermarkMs - this.#attributesHorizonMs
    const stride = this.stride
    const timesStart = base + LOG_HEADER
    const start = fullEventsStart(page, base)
    const end = logEnd(page, base)
    if (!(start > timesStart && page[timesStart]! <= dropAtOrBefore) && !(end > start && page[start]! <= stripAtOrBefore)) return
    let write = timesStart
    for (let i = timesStart; i < start; i++) if (page[i]! > dropAtOrBefore) page[write++] = page[i]!
    let read = start
    for (; read < end && page[read]! <= stripAtOrBefore; read += stride) if (page[read]! > dropAtOrBefore) page[write++] = page[read]!
    const timeOnly = write - timesStart
    for (; read < end; read++) page[write++] = page[read]!
    this.#usedSlots -= end - write
    page[base] = write - base
    page[base + 1] = timeOnly
  }
}

const EMPTY_LOG = new Float64Array(0)

/** The minute of a time, within int32 (a card without events gets the smallest). */
function minuteOf(timeMs: number): number {
  const minute = Math.floor(timeMs / MINUTE_MS)
  return minute >= 0x7fffffff ? 0x7fffffff : minute > NO_EVENT_MINUTE ? minute : NO_EVENT_MINUTE
}

/** Where the log starts in a block at `offset`: after its capacity and stored id. */
function logBase(page: Float64Array, offset: number): number {
  return offset + 1 + storedIdSlots(page, offset + 1)
}

/**
 * One past the last slot of the log at `base`. Every index into a log derives from this or fullEventsStart: both are
 * int32 (`| 0`), or V8 keeps the doubles a page holds as doubles and converts every index computed from them (a float
 * add, a truncation and a check per access in the window pass).
 */
export function logEnd(page: Float64Array, base: number): number {
  return (base + page[base]!) | 0
}

/** Index of the first full event of the log at `base`. */
export function fullEventsStart(page: Float64Array, base: number): number {
  return (base + LOG_HEADER + page[base + 1]!) | 0
}

/** Index (in full events) of the first full event later than `value`. */
export function upperBound(page: Float64Array, base: number, stride: number, value: number): number {
  const start = fullEventsStart(page, base)
  let lo = 0
  let hi = ((logEnd(page, base) - start) / stride) | 0
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (page[start + stride * mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Time-only events `countAtOrBefore` steps over from the oldest before it bisects. */
const OLDEST_STEPS = 4

/**
 * How many events of the log (time-only and full) have a time at or before `timeMs`. The bounds of count windows
 * reaching past the attributes horizon mostly fall at the edges of the time-only events: after all of them (the
 * window's newer end, near the attributes horizon) or before all but the oldest few (its older end, near the
 * horizon, where compaction drops events). Those are settled with a few comparisons that the CPU predicts; a
 * bisection mispredicts about every other step.
 */
export function countAtOrBefore(page: Float64Array, base: number, stride: number, timeMs: number): number {
  const start = fullEventsStart(page, base)
  const timeOnly = start - base - LOG_HEADER
  if (logEnd(page, base) > start && page[start]! <= timeMs) return timeOnly + upperBound(page, base, stride, timeMs)
  if (timeOnly === 0 || page[start - 1]! <= timeMs) return timeOnly
  let lo = 0
  while (page[base + LOG_HEADER + lo]! <= timeMs) if (++lo === OLDEST_STEPS) break
  if (lo < OLDEST_STEPS) return lo
  let hi = timeOnly - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (page[base + LOG_HEADER + mid]! <= timeMs) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The time of the log's index-th event, counting the time-only events first. */
export function timeAt(page: Float64Array, base: number, stride: number, index: number): number {
  const timeOnly = page[base + 1]! | 0
  return index < timeOnly ? page[base + LOG_HEADER + index]! : page[fullEventsStart(page, base) + stride * (index - timeOnly)]!
}

/** The distinct values of `values`, ascending. */
function distinctSorted(values: Int32Array): Int32Array {
  const sorted = values.slice().sort()
  let count = 0
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[count++] = sorted[i]!
  return sorted.slice(0, count)
}

/** Card ids in JavaScript's string order (UTF-16 code units), as the budget's ties are broken. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
