import { CardKey } from './card-key.js'
import { EMPTY, ENTRY, type CardTable } from './card-table.js'

/**
 * Cards one `warm` call loads: their table and block lines (~36 KiB for 64 cards of 20 events) stay in L2 until their
 * turn comes. Also the batch of the eviction's block reads, for the same reason.
 */
export const WARM_MAX = 64
/** Doubles in a 64-byte cache line. */
const SLOTS_PER_LINE = 8
/** Slots of one block `warm` loads at most: 32 lines (a card of 20 events a fortnight takes 8). */
const WARM_SLOTS_MAX = 32 * SLOTS_PER_LINE

/**
 * Loads the table slots and blocks of the cards the next transactions will look up, then hands out the slots it found
 * to the lookups that follow, in the same order. A lookup waits on cache misses (slot, block lines) that no
 * computation hides; issued here for a few dozen cards in tight loops of independent loads, the CPU overlaps them,
 * and the lookups skip hashing each id again.
 */
export class CardPrefetch {
  readonly #table: CardTable
  readonly #refs = new Int32Array(WARM_MAX)
  /** The cards of the last `warm`, encoded, and their table slots (-1: absent then, so unknown now). */
  readonly #keys = Array.from({ length: WARM_MAX }, () => new CardKey())
  readonly #slots = new Int32Array(WARM_MAX)
  #count = 0
  /** The warmed card the next lookup most likely is: lookups come in the order the cards were warmed. */
  #next = 0
  /** The table layout the slots were found in: slots of another layout are not used. */
  #layout = -1
  /** The sum of values loaded only to bring their lines into the cache: kept so the loads are not optimised away. */
  #loadSink = 0

  constructor(table: CardTable) {
    this.#table = table
  }

  /** Loads and finds the (first WARM_MAX) cards; changes nothing a lookup returns. */
  warm(cards: readonly { readonly card_id: string }[]): void {
    const count = Math.min(cards.length, WARM_MAX)
    const refs = this.#refs
    const keys = this.#keys
    const arena = this.#table.arena
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
    // card's block for every card a collision displaced.
    const table = this.#table.entries
    const mask = this.#table.mask
    const slots = this.#slots
    for (let i = 0; i < count; i++) {
      const hash = refs[i]!
      let slot = hash & mask
      while (table[ENTRY * slot + 1] !== EMPTY && table[ENTRY * slot] !== hash) slot = (slot + 1) & mask
      slots[i] = slot
      refs[i] = table[ENTRY * slot + 1]!
    }
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!
      if (ref !== EMPTY) touched += arena.pageOf(ref)[arena.offsetOf(ref) + 1]!
    }
    // Then every other line of the blocks: the pass reads the log's last week and binary-searches the rest, one miss
    // per line otherwise. The capacity bounds the block without a dependent load of the log's header; a long log's
    // first lines only, so that one hot card cannot push the other cards' lines out of the cache.
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!
      if (ref === EMPTY) continue
      const page = arena.pageOf(ref)
      const offset = arena.offsetOf(ref)
      const end = offset + Math.min(page[offset]! | 0, WARM_SLOTS_MAX)
      for (let slot = offset + SLOTS_PER_LINE; slot < end; slot += SLOTS_PER_LINE) touched += page[slot]!
      touched += page[end - 1]!
    }
    this.#loadSink = touched
    // With every line at hand, the ids: a slot whose block holds another id (a hash shared) is searched on from the start.
    for (let i = 0; i < count; i++) {
      const ref = refs[i]!
      if (ref === EMPTY) slots[i] = -1
      else if (!keys[i]!.matches(arena.pageOf(ref), arena.offsetOf(ref) + 1)) slots[i] = this.#table.probe(keys[i]!)
    }
    this.#count = count
    this.#next = 0
    this.#layout = this.#table.layout
  }

  /** The table slot of a card, or -1: the one `warm` found when the card is among the warmed ones. */
  slotOf(cardId: string): number {
    if (this.#layout === this.#table.layout) {
      for (let i = this.#next; i < this.#count; i++) {
        if (this.#keys[i]!.id !== cardId) continue
        this.#next = i + 1
        // An absent card may have been added since.
        if (this.#slots[i]! >= 0) return this.#slots[i]!
        break
      }
    }
    return this.#table.find(cardId)
  }
}
