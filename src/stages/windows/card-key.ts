import { ErrorCode, FraudstreamError } from '../../core/errors.js'
/**
 * How a card id is kept in its block of the card arena, and its hash for the card table.
 *
 * Stored form: a header slot, then the id's words two to a slot (hi · 2^24 + lo, exact in a double). A word holds
 * three latin-1 units (8 bits each) or, when the id has a unit above 255, one UTF-16 unit. Header = slots · 2^17 +
 * length · 2 + wide, so the log's start is found without a division. The hash runs over the same words (integer
 * operations only: a lookup hashes and compares ~4 words instead of 10 characters with float arithmetic).
 */
// Header bits: slots (≤ 8192 for a wide id of this length) from bit 17, length in bits 1–16, below 2^31.
export const MAX_ID_LENGTH = 16_383
const WORD = 16_777_216

/** The id currently looked up: its header, hash and stored slots, computed once and compared against blocks. */
export class CardKey {
  header = 0
  hash = 0
  slotCount = 0
  #slots = new Float64Array(16)
  #id: string | undefined

  /** The id encoded last. */
  get id(): string | undefined {
    return this.#id
  }

  /**
   * Encodes `id`. Callers that may pass the id encoded last check `id` first: comparing two strings of one length costs
   * a sixth of the encoding, wasted for the ids `warm` encodes, which differ from the last.
   */
  set(id: string): void {
    const length = id.length
    if (length > MAX_ID_LENGTH)
      throw new FraudstreamError(
        ErrorCode.internal,
        `card id of ${length} characters: at most ${MAX_ID_LENGTH}`,
        'internal',
      )
    // Read as latin-1 in one pass, a word (three units) a step, each unit once, the words and the hash as they come (a
    // first pass looking for wide units would read each twice); an id with a wider unit is encoded again below, one
    // unit per word.
    const narrowWords = Math.ceil(length / 3)
    this.#reserve(Math.ceil(narrowWords / 2))
    const slots = this.#slots
    let units = 0
    let hash = FNV_OFFSET
    let hi = 0
    let w = 0
    for (let i = 0; i < length; i += 3) {
      // A last word of fewer than three units is padded with zero units.
      const a = id.charCodeAt(i)
      const b = i + 1 < length ? id.charCodeAt(i + 1) : 0
      const c = i + 2 < length ? id.charCodeAt(i + 2) : 0
      units |= a | b | c
      const word = ((a & 0xff) << 16) | ((b & 0xff) << 8) | (c & 0xff)
      hash = Math.imul(hash ^ word, FNV_PRIME)
      if ((w & 1) === 0) hi = word
      else slots[w >> 1] = hi * WORD + word
      w++
    }
    const wide = units > 255
    const words = wide ? length : narrowWords
    if (wide) {
      this.#reserve(Math.ceil(words / 2))
      hash = FNV_OFFSET
      for (w = 0; w < words; w++) {
        const unit = id.charCodeAt(w)
        hash = Math.imul(hash ^ unit, FNV_PRIME)
        if ((w & 1) === 0) hi = unit
        else this.#slots[w >> 1] = hi * WORD + unit
      }
    }
    if ((words & 1) === 1) this.#slots[words >> 1] = hi * WORD
    const slotCount = Math.ceil(words / 2)
    this.hash = finalize(hash)
    this.slotCount = slotCount
    this.header = slotCount * 131_072 + length * 2 + (wide ? 1 : 0)
    // Last: after a refused id, the key still describes the id before it.
    this.#id = id
  }

  #reserve(slots: number): void {
    if (slots > this.#slots.length) this.#slots = new Float64Array(slots)
  }

  /** Slots the stored form takes: the header and the words. */
  get storedSlots(): number {
    return 1 + this.slotCount
  }

  /** Writes the stored form at `at`. */
  write(page: Float64Array, at: number): void {
    page[at] = this.header
    for (let i = 0; i < this.slotCount; i++) page[at + 1 + i] = this.#slots[i]!
  }

  /** Whether the stored form at `at` is this id. */
  matches(page: Float64Array, at: number): boolean {
    if (page[at] !== this.header) return false
    for (let i = 0; i < this.slotCount; i++) if (page[at + 1 + i] !== this.#slots[i]) return false
    return true
  }
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/**
 * Murmur3's finalizer: FNV's multiply carries bits upward only, so without it the table's low index bits would ignore
 * the high bits of every word.
 */
function finalize(hash: number): number {
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  return hash ^ (hash >>> 16)
}

/** Slots of the stored form at `at` (header included). */
export function storedIdSlots(page: Float64Array, at: number): number {
  return 1 + (page[at]! >>> 17)
}

/** How many words the stored id at `at` has (the stored header says its length and width). */
function storedWordCount(page: Float64Array, at: number): number {
  const header = page[at]!
  const length = (header >>> 1) & 0xffff
  return header & 1 ? length : Math.ceil(length / 3)
}

/** Word `w` of the stored id at `at`. */
function storedWord(page: Float64Array, at: number, w: number): number {
  const slot = page[at + 1 + (w >> 1)]!
  const hi = Math.floor(slot / WORD)
  return (w & 1) === 0 ? hi : slot - hi * WORD
}

/** CardKey.hash of the stored id at `at`, without making its string or an array (evacuation moves thousands of blocks). */
export function storedIdHash(page: Float64Array, at: number): number {
  const words = storedWordCount(page, at)
  let hash = FNV_OFFSET
  for (let w = 0; w < words; w++) hash = Math.imul(hash ^ storedWord(page, at, w), FNV_PRIME)
  return finalize(hash)
}

/** The stored id at `at` as a string (snapshots, budget eviction order). */
export function readStoredId(page: Float64Array, at: number): string {
  const header = page[at]!
  const wide = (header & 1) === 1
  const units: number[] = []
  const words = storedWordCount(page, at)
  for (let w = 0; w < words; w++) {
    const word = storedWord(page, at, w)
    if (wide) units.push(word)
    else units.push(word >>> 16, (word >>> 8) & 0xff, word & 0xff)
  }
  // A narrow id's last word is padded with zero units.
  return String.fromCharCode(...units.slice(0, (header >>> 1) & 0xffff))
}
