import { storedIdSlots } from './card-key.js'
import { WARM_MAX } from './card-prefetch.js'
import { ENTRY, minuteOf, type CardTable } from './card-table.js'

/**
 * When cards leave the table: the idle sweep drops the cards whose newest event can no longer fall in any on-time
 * window (the per-key TTL), and the budget policy drops active cards when the state outgrows its byte budget.
 */
export class CardEviction {
  readonly #table: CardTable
  readonly #horizonMs: number
  /** The slot the sweep resumes at, valid for the table as it was at `#sweepRebuilds`. */
  #sweepSlot = 0
  #sweepRebuilds = 0
  #sweepPausedUntilMs = -Infinity
  /** The sum of values loaded only to bring their lines into the cache: kept so the loads are not optimised away. */
  #loadSink = 0

  constructor(table: CardTable, horizonMs: number) {
    this.#table = table
    this.#horizonMs = horizonMs
  }

  /**
   * Drops cards whose newest event is at or below watermark − horizon. With `maxSlots`, visits at most that many table
   * slots, resuming where the last call stopped: a sweep in slices, so the cost per record stays constant with
   * millions of cards. After a whole pass, slices wait until the watermark has moved 1/8 of the horizon (few cards can
   * have turned idle before): an idle card stays at most that and one pass longer.
   */
  evictIdle(watermarkMs: number, maxSlots = Infinity): number {
    const table = this.#table
    // A rebuilt table has other slots: the sweep starts over.
    if (table.rebuilds !== this.#sweepRebuilds || maxSlots === Infinity) this.#sweepSlot = 0
    const horizonMs = watermarkMs - this.#horizonMs
    const cutoffMinute = minuteOf(horizonMs)
    const paused = maxSlots !== Infinity && watermarkMs < this.#sweepPausedUntilMs
    const visits = paused ? 0 : Math.min(maxSlots, table.mask + 1)
    let evicted = 0
    for (let advanced = 0; advanced < visits;) {
      const slot = this.#sweepSlot
      // A card whose newest minute is past the cutoff's is active: its block is not read.
      if (table.holdsCard(slot) && table.minuteAt(slot) <= cutoffMinute && table.newestEventMs(slot) <= horizonMs) {
        table.delete(slot)
        evicted++
        // Deleting shifts later entries of the probe run back: this slot may hold one now.
        if (table.holdsCard(slot)) continue
      }
      if (slot === table.mask) {
        this.#sweepSlot = 0
        this.#sweepPausedUntilMs = watermarkMs + this.#horizonMs / 8
        // At the end of a pass, not mid-way: rebuilding the table restarts the sweep from slot 0.
        table.shrinkIfSparse()
        if (maxSlots !== Infinity) break
      } else this.#sweepSlot = slot + 1
      advanced++
    }
    this.#sweepRebuilds = table.rebuilds
    table.compactArena()
    return evicted
  }

  /**
   * Budget policy: when the estimate exceeds `maxBytes`, idle cards go first, then the cards whose newest event is
   * oldest (ties by card id), until the estimate is under 90 % of the budget. Features of an evicted card restart
   * from empty (as for a card never seen), so a budget that bites trades exactness for memory; returns how many
   * active cards it dropped (idle ones are not counted).
   */
  enforceBudget(watermarkMs: number, maxBytes: number): number {
    const table = this.#table
    if (table.estimatedBytes <= maxBytes) return 0
    // Idle cards are past their TTL: dropping them now is no budget eviction (their features start from empty anyway).
    this.evictIdle(watermarkMs)
    if (table.estimatedBytes <= maxBytes) return 0
    // The cards to drop are those whose newest event is in a minute before a cut-off minute, then of the cards in
    // that minute the first in order. The minute is in the table; the cut-off is the first minute by which the bytes
    // of the cards up to it suffice, and only the cut-off minute's cards are read for their time and id: sorting
    // every card with a comparator, reading each one's newest event, stalled the event loop for a million cards.
    // Typed arrays and indexes throughout, not an object per card.
    const target = maxBytes * 0.9
    const before = table.estimatedBytes
    const n = table.size
    const slots = new Int32Array(n)
    const minutes = new Int32Array(n)
    for (let slot = 0, i = 0; slot <= table.mask; slot++) {
      if (!table.holdsCard(slot)) continue
      slots[i] = slot
      minutes[i++] = table.minuteAt(slot)
    }
    const { usedSlots, idSlots } = this.#blockSlots(slots)
    // The bytes of each distinct minute's cards, the minutes ascending (as small integers: a Map of byte totals kept
    // each one as a heap number).
    const distinctMinutes = distinctSorted(minutes)
    const minuteIndex = new Map<number, number>()
    distinctMinutes.forEach((minute, i) => minuteIndex.set(minute, i))
    const bytesByMinute = new Float64Array(distinctMinutes.length)
    for (let i = 0; i < n; i++)
      bytesByMinute[minuteIndex.get(minutes[i]!)!]! += table.estimate(1, usedSlots[i]!, idSlots[i]!)
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
    // Entries are marked, then the table is rebuilt once (see CardTable.evict).
    const dropped: number[] = []
    const atCutoff: { slot: number; newest: number; id: string }[] = []
    for (let i = 0; i < n; i++) {
      if (minutes[i]! < cutoff) dropped.push(i)
      else if (minutes[i] === cutoff)
        atCutoff.push({ slot: slots[i]!, newest: table.newestEventMs(slots[i]!), id: table.idAt(slots[i]!) })
    }
    this.#evictAll(dropped, slots, usedSlots, idSlots)
    let evicted = dropped.length
    atCutoff.sort((a, b) => a.newest - b.newest || compareIds(a.id, b.id))
    for (const { slot } of atCutoff) {
      if (table.estimatedBytes <= target) break
      table.evict(slot)
      evicted++
    }
    table.rebuild()
    return evicted
  }

  /**
   * The log and id slots of the cards in `slots`, read from their blocks WARM_MAX at a time: first every block's id
   * header (its first line), then the log headers after them, each loop of independent loads, as CardPrefetch does.
   * One card at a time, each read waited on its cache miss.
   */
  #blockSlots(slots: Int32Array): { usedSlots: Int32Array; idSlots: Int32Array } {
    const entries = this.#table.entries
    const arena = this.#table.arena
    const usedSlots = new Int32Array(slots.length)
    const idSlots = new Int32Array(slots.length)
    for (let from = 0; from < slots.length; from += WARM_MAX) {
      const to = Math.min(slots.length, from + WARM_MAX)
      for (let i = from; i < to; i++) {
        const ref = entries[ENTRY * slots[i]! + 1]!
        idSlots[i] = storedIdSlots(arena.pageOf(ref), arena.offsetOf(ref) + 1)
      }
      for (let i = from; i < to; i++) {
        const ref = entries[ENTRY * slots[i]! + 1]!
        usedSlots[i] = arena.pageOf(ref)[arena.offsetOf(ref) + 1 + idSlots[i]!]!
      }
    }
    return { usedSlots, idSlots }
  }

  /**
   * Evicts the cards at `indexes` of `slots`, whose slots #blockSlots read. Each block's capacity is loaded for
   * WARM_MAX cards before they are freed (a miss each, overlapped).
   */
  #evictAll(indexes: readonly number[], slots: Int32Array, usedSlots: Int32Array, idSlots: Int32Array): void {
    const entries = this.#table.entries
    const arena = this.#table.arena
    for (let from = 0; from < indexes.length; from += WARM_MAX) {
      const to = Math.min(indexes.length, from + WARM_MAX)
      let touched = 0
      for (let j = from; j < to; j++) {
        const ref = entries[ENTRY * slots[indexes[j]!]! + 1]!
        touched += arena.pageOf(ref)[arena.offsetOf(ref)]!
      }
      this.#loadSink = touched
      for (let j = from; j < to; j++) {
        const i = indexes[j]!
        this.#table.evictCounted(slots[i]!, usedSlots[i]!, idSlots[i]!)
      }
    }
  }
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
