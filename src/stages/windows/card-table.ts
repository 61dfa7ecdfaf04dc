import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import { CardArena, copySlots } from './card-arena.js'
import { CardKey, readStoredId, storedIdHash, storedIdSlots } from './card-key.js'
import { LOG_HEADER, logEnd, newestEventMs } from './card-log.js'

export interface CardTableOptions {
  /** Numbers per event, its time included. */
  readonly stride: number
  /** log2 of the slots of a memory page (CardArena; 2 MiB pages by default). */
  readonly pageBits?: number
  /** log2 of the table's first size (1024 slots by default; tests start small so that it grows and fills). */
  readonly tableBits?: number
}

/**
 * A table entry: [32-bit id hash, block reference, minute of the card's newest event]. The minute lets the idle sweep
 * pass over active cards reading the table alone, without a cache miss on each card's block.
 */
export const ENTRY = 3
/** The reference of a free entry (block references are ≥ 0). */
export const EMPTY = -1
/** The reference of an entry whose card the budget dropped, until the table is rebuilt without it. */
const EVICTED = -2
const NO_EVENT_MINUTE = -0x80000000
const MINUTE_MS = 60_000
/** Open addressing stays at or below this load, so a lookup probes ~1.5 slots, mostly in one cache line. */
const MAX_LOAD = 0.5
/** Block moves of one compaction noted before the table follows them (see #applyMoves). */
const MOVES_BATCH = 64
/**
 * Per card, besides its log and id: the block's capacity slot (8 B) and a table entry at the table's average load
 * (12 B at 3/8: 32 B). Its spare capacity is estimated apart (see estimate).
 */
const CARD_OVERHEAD_BYTES = 40
const EMPTY_LOG = new Float64Array(0)

/**
 * The cards of a CardWindows: their logs in blocks of a CardArena, each block [capacity, the card id as CardKey stores
 * it, log…], found through an open-addressing table of entries (see ENTRY). A lookup costs a table slot and the
 * block's first cache line, where the id is compared; a Map of strings to arrays waited on a chain of dependent
 * cache misses (bucket, entries, key strings, array, elements).
 *
 * Internal to the windows folder: CardWindows, its prefetch and its eviction use it; its slots mean nothing outside.
 */
export class CardTable {
  readonly stride: number
  /** The blocks: the prefetch and the eviction passes load their lines in loops of their own. */
  readonly arena: CardArena
  #entries: Int32Array
  #mask: number
  /** The table's first size: it never shrinks below it. */
  readonly #minSlots: number
  #size = 0
  /** Slots in use over every log: what the byte estimate counts. */
  #usedSlots = 0
  /** Slots of the stored card ids, over every block. */
  #idSlots = 0
  /** Changes whenever entries move (deletion, rebuild): slots found before are not to be used. */
  #layout = 0
  /** Changes whenever the table is rebuilt: a position in a pass over its slots is not to be resumed. */
  #rebuilds = 0
  /** The id being looked up or inserted, encoded as blocks store it. */
  readonly #key = new CardKey()
  /** Block moves of the running compaction not yet in the table: [id hash, from, to] each (see #relocated). */
  readonly #moves = new Int32Array(3 * MOVES_BATCH)
  #moveCount = 0
  /** The sum of values loaded only to bring their lines into the cache: kept so the loads are not optimised away. */
  #loadSink = 0
  /** The page of the log `at`, `insert` or `fit` found last. */
  #page: Float64Array = EMPTY_LOG

  constructor(options: CardTableOptions) {
    this.stride = options.stride
    this.arena = new CardArena(options.pageBits === undefined ? {} : { pageBits: options.pageBits })
    this.#minSlots = 1 << (options.tableBits ?? 10)
    this.#mask = this.#minSlots - 1
    this.#entries = new Int32Array(ENTRY * (this.#mask + 1)).fill(EMPTY)
  }

  /** The entries (see ENTRY), for passes that read them in tight loops; replaced when the table is rebuilt. */
  get entries(): Int32Array {
    return this.#entries
  }

  get mask(): number {
    return this.#mask
  }

  get size(): number {
    return this.#size
  }

  get layout(): number {
    return this.#layout
  }

  get rebuilds(): number {
    return this.#rebuilds
  }

  /** The page of the log `at`, `insert` or `fit` found last. */
  get page(): Float64Array {
    return this.#page
  }

  /** What the pages (free space included) and the entries take in memory. */
  get allocatedBytes(): number {
    return this.arena.pageSlots * 8 + this.#entries.byteLength
  }

  /** The byte estimate of every card: see CardWindows.estimatedBytes. */
  get estimatedBytes(): number {
    return this.estimate(this.#size, this.#usedSlots, this.#idSlots)
  }

  /** The estimate of `cards` cards holding `usedSlots` log slots and `idSlots` id slots: linear in all three. */
  estimate(cards: number, usedSlots: number, idSlots: number): number {
    // Spare capacity: a block grows by two events at least and an eighth of its log, so on average about one event
    // and a sixteenth of the log is unused.
    const spareSlots = cards * this.stride + usedSlots / 16
    return cards * CARD_OVERHEAD_BYTES + (usedSlots + idSlots + spareSlots) * 8
  }

  /** Whether a slot holds a card. */
  holdsCard(slot: number): boolean {
    return this.#entries[ENTRY * slot + 1] !== EMPTY
  }

  /** The minute of the newest event of the card in `slot`, as the table keeps it. */
  minuteAt(slot: number): number {
    return this.#entries[ENTRY * slot + 2]!
  }

  /** The log of the card in `slot`: its base in `page`, which this sets. */
  at(slot: number): number {
    const ref = this.#entries[ENTRY * slot + 1]!
    this.#page = this.arena.pageOf(ref)
    return logBase(this.#page, this.arena.offsetOf(ref))
  }

  /** The table slot of a card, or -1. */
  find(cardId: string): number {
    // Often the id encoded last: located, then inserted as a new card, or looked up again.
    if (this.#key.id !== cardId) this.#key.set(cardId)
    return this.probe(this.#key)
  }

  probe(key: CardKey): number {
    const hash = key.hash
    const entries = this.#entries
    const mask = this.#mask
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const ref = entries[ENTRY * slot + 1]!
      if (ref === EMPTY) return -1
      if (entries[ENTRY * slot] === hash && key.matches(this.arena.pageOf(ref), this.arena.offsetOf(ref) + 1))
        return slot
    }
  }

  /** A new card with an empty log with room for `logSlots`: returns its slot; its block's page becomes `page`. */
  insert(cardId: string, logSlots: number): number {
    if (this.#size + 1 > (this.#mask + 1) * MAX_LOAD) this.#resize(2 * (this.#mask + 1))
    const key = this.#key
    if (key.id !== cardId) key.set(cardId)
    const ref = this.arena.allocate(1 + key.storedSlots + logSlots)
    const page = this.arena.pageOf(ref)
    const offset = this.arena.offsetOf(ref)
    key.write(page, offset + 1)
    const base = logBase(page, offset)
    page[base] = LOG_HEADER
    page[base + 1] = 0
    const hash = key.hash
    let slot = hash & this.#mask
    while (this.#entries[ENTRY * slot + 1] !== EMPTY) slot = (slot + 1) & this.#mask
    this.#entries[ENTRY * slot] = hash
    this.#entries[ENTRY * slot + 1] = ref
    this.#entries[ENTRY * slot + 2] = NO_EVENT_MINUTE
    this.#size++
    this.#idSlots += key.storedSlots
    this.#usedSlots += LOG_HEADER
    this.#page = page
    return slot
  }

  /** Log slots added to (or, negative, removed from) a log in place. */
  logResized(slots: number): void {
    this.#usedSlots += slots
  }

  /**
   * After `at(slot)` returned `base`: the base of that card's log, moved when needed to a block with room for `needed`
   * log slots: grown when full, shrunk when under half used (a bursty card would otherwise keep its peak). Sets `page`.
   */
  fit(slot: number, base: number, needed: number): number {
    const page = this.#page
    const offset = this.arena.offsetOf(this.#entries[ENTRY * slot + 1]!)
    const capacity = (page[offset]! | 0) - (base - offset)
    return needed > capacity || 2 * needed < capacity - 4 ? this.#move(slot, needed) : base
  }

  /**
   * Moves a card's log to a block with room for `needed` log slots and an eighth more, at least two events: small
   * logs would otherwise move on every add or every other.
   */
  #move(slot: number, needed: number): number {
    const oldRef = this.#entries[ENTRY * slot + 1]!
    const oldPage = this.arena.pageOf(oldRef)
    const oldOffset = this.arena.offsetOf(oldRef)
    const oldBase = logBase(oldPage, oldOffset)
    const ref = this.arena.allocate(oldBase - oldOffset + needed + Math.max(2 * this.stride, needed >> 3))
    const page = this.arena.pageOf(ref)
    const offset = this.arena.offsetOf(ref)
    // The id and the used part of the log; the new block's capacity stays in its slot 0. A loop, not set(subarray):
    // a log is a few dozen slots, and the view object cost more than the copy.
    copySlots(oldPage, oldOffset + 1, logEnd(oldPage, oldBase), page, offset + 1)
    this.arena.free(oldRef)
    this.#entries[ENTRY * slot + 1] = ref
    this.#page = page
    return logBase(page, offset)
  }

  /** Keeps the minute of the newest event of the card in `slot` (see ENTRY). */
  noteEvent(slot: number, eventTimeMs: number): void {
    const minute = minuteOf(eventTimeMs)
    if (minute > this.#entries[ENTRY * slot + 2]!) this.#entries[ENTRY * slot + 2] = minute
  }

  /** Sets the minute of the card in `slot` from its log (after a restore wrote the log whole). */
  noteLog(slot: number): void {
    this.#entries[ENTRY * slot + 2] = minuteOf(this.newestEventMs(slot))
  }

  /** The card id in a slot's block. */
  idAt(slot: number): string {
    const ref = this.#entries[ENTRY * slot + 1]!
    return readStoredId(this.arena.pageOf(ref), this.arena.offsetOf(ref) + 1)
  }

  newestEventMs(slot: number): number {
    const ref = this.#entries[ENTRY * slot + 1]!
    const page = this.arena.pageOf(ref)
    return newestEventMs(page, logBase(page, this.arena.offsetOf(ref)), this.stride)
  }

  /** Removes the card in `slot`: later entries of its probe run shift back, so `slot` may hold another card after. */
  delete(slot: number): void {
    const entries = this.#entries
    const mask = this.#mask
    this.#releaseBlock(slot)
    this.#layout++
    // Backward-shift deletion: later entries of the probe run move into the hole if their home allows it.
    let hole = slot
    for (let next = (hole + 1) & mask; entries[ENTRY * next + 1] !== EMPTY; next = (next + 1) & mask) {
      const home = entries[ENTRY * next]! & mask
      const reachable = hole <= next ? home <= hole || home > next : home <= hole && home > next
      if (reachable) {
        entries[ENTRY * hole] = entries[ENTRY * next]!
        entries[ENTRY * hole + 1] = entries[ENTRY * next + 1]!
        entries[ENTRY * hole + 2] = entries[ENTRY * next + 2]!
        hole = next
      }
    }
    entries[ENTRY * hole + 1] = EMPTY
  }

  /**
   * Removes the card in `slot`, leaving its entry marked until `rebuild`: removing many cards one at a time shifted
   * the entries after each.
   */
  evict(slot: number): void {
    this.#releaseBlock(slot)
    this.#entries[ENTRY * slot + 1] = EVICTED
  }

  /** `evict` for a card whose log and id slots the caller has read already. */
  evictCounted(slot: number, usedSlots: number, idSlots: number): void {
    this.#release(slot, usedSlots, idSlots)
    this.#entries[ENTRY * slot + 1] = EVICTED
  }

  #releaseBlock(slot: number): void {
    const ref = this.#entries[ENTRY * slot + 1]!
    const page = this.arena.pageOf(ref)
    const offset = this.arena.offsetOf(ref)
    this.#release(slot, page[logBase(page, offset)]!, storedIdSlots(page, offset + 1))
  }

  /** Frees a card's block and takes it out of the counts; its entry is the caller's to remove. */
  #release(slot: number, usedSlots: number, idSlots: number): void {
    this.#usedSlots -= usedSlots
    this.#idSlots -= idSlots
    this.arena.free(this.#entries[ENTRY * slot + 1]!)
    this.#size--
  }

  /**
   * After mass eviction (a traffic peak over, a budget that bit), a table far emptier than it needs to be is rebuilt
   * at half its size or less: it would otherwise keep its peak size (12 B a slot) for good.
   */
  shrinkIfSparse(): void {
    const slots = this.#sparseSlots()
    if (slots !== undefined) this.#resize(slots)
  }

  /** Rebuilds the table without the entries `evict` marked, at a smaller size if it is far emptier than it needs. */
  rebuild(): void {
    this.#resize(this.#sparseSlots() ?? this.#mask + 1)
  }

  /** The smaller size a table far emptier than it needs to be should have; undefined when it is not so empty. */
  #sparseSlots(): number | undefined {
    const slots = this.#mask + 1
    if (slots <= this.#minSlots || this.#size >= (slots * MAX_LOAD) / 4) return undefined
    let target = slots
    while (target > this.#minSlots && this.#size < (target * MAX_LOAD) / 4) target /= 2
    return target
  }

  #resize(slots: number): void {
    const old = this.#entries
    const entries = new Int32Array(ENTRY * slots).fill(EMPTY)
    this.#entries = entries
    this.#mask = entries.length / ENTRY - 1
    for (let slot = 0; slot < old.length / ENTRY; slot++) {
      // EMPTY or EVICTED: no card.
      if (old[ENTRY * slot + 1]! < 0) continue
      const hash = old[ENTRY * slot]!
      let target = hash & this.#mask
      while (entries[ENTRY * target + 1] !== EMPTY) target = (target + 1) & this.#mask
      entries[ENTRY * target] = hash
      entries[ENTRY * target + 1] = old[ENTRY * slot + 1]!
      entries[ENTRY * target + 2] = old[ENTRY * slot + 2]!
    }
    this.#layout++
    this.#rebuilds++
  }

  /** Cards that grew or left freed their blocks: the emptiest pages move out, a few at a time. */
  compactArena(): void {
    if (this.arena.compact((from, to) => this.#relocated(from, to)) > 0) this.#applyMoves()
  }

  /**
   * The card whose block moved from `from` to `to` will point to its new place: noted now (the id is read at `to`
   * while it is there: a page emptied later in the same compaction can be reused), applied in order, in batches.
   */
  #relocated(from: number, to: number): void {
    const moves = this.#moves
    const at = 3 * this.#moveCount
    moves[at] = storedIdHash(this.arena.pageOf(to), this.arena.offsetOf(to) + 1)
    moves[at + 1] = from
    moves[at + 2] = to
    if (++this.#moveCount === MOVES_BATCH) this.#applyMoves()
  }

  /**
   * Points the entries of the noted moves to their blocks' new places, in the order the moves happened. An evacuated
   * page moves thousands of blocks and each entry was a cache miss on its own: the home slots of a batch are loaded
   * first, in a loop of independent loads, as CardPrefetch does.
   */
  #applyMoves(): void {
    const moves = this.#moves
    const entries = this.#entries
    const mask = this.#mask
    let touched = 0
    for (let i = 0; i < this.#moveCount; i++) touched += entries[ENTRY * (moves[3 * i]! & mask) + 1]!
    this.#loadSink = touched
    for (let i = 0; i < this.#moveCount; i++) {
      const hash = moves[3 * i]!
      const from = moves[3 * i + 1]!
      for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
        if (entries[ENTRY * slot + 1] === from && entries[ENTRY * slot] === hash) {
          entries[ENTRY * slot + 1] = moves[3 * i + 2]!
          break
        }
        if (entries[ENTRY * slot + 1] === EMPTY)
          throw new FraudstreamError(
            ErrorCode.internal,
            `card arena: moved block ${from} has no table entry`,
            'internal',
          )
      }
    }
    this.#moveCount = 0
  }
}

/** Where the log starts in a block at `offset`: after its capacity and stored id. */
function logBase(page: Float64Array, offset: number): number {
  return offset + 1 + storedIdSlots(page, offset + 1)
}

/** The minute of a time, within int32 (a card without events gets the smallest), as entries keep it. */
export function minuteOf(timeMs: number): number {
  const minute = Math.floor(timeMs / MINUTE_MS)
  return minute >= 0x7fffffff ? 0x7fffffff : minute > NO_EVENT_MINUTE ? minute : NO_EVENT_MINUTE
}
