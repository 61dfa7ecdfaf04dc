import { ErrorCode, FraudstreamError } from '../../core/errors.js'
const MAX_REF_BITS = 31
const MIN_PAGE_SLOTS = 4_096

/**
 * Block sizes: steps of 4 slots up to 64, then ~1/8 apart (a block wastes at most an eighth of itself).
 */
function classCapacities(pageSlots: number): number[] {
  const sizes: number[] = []
  for (let size = 4; size <= Math.min(64, pageSlots); size += 4) sizes.push(size)
  for (let size = 64; size < pageSlots;) sizes.push((size = Math.min(pageSlots, Math.ceil((size * 9) / 8 / 4) * 4)))
  return sizes
}

export interface CardArenaOptions {
  /** log2 of a page's slots: 2^18 doubles = 2 MiB by default (tests use small pages to exercise evacuation). */
  readonly pageBits?: number
}

/**
 * Memory for the card logs: blocks of doubles in large Float64Array pages instead of a JS array per card. A JS
 * array is an object and a separate elements store, two cache misses per lookup, and a million of them are a
 * million objects for the garbage collector to trace; a block is one range of a page.
 *
 * A block's slot 0 holds its capacity, negative once freed. Freed blocks are reused by blocks of their size class;
 * when freed slots exceed a twelfth of the pages (cards that grew leave their smaller blocks behind), `compact`
 * evacuates the emptiest pages: their live blocks move to fresh space, and the page is cut anew.
 */
export class CardArena {
  readonly pages: Float64Array[] = []
  readonly #pageBits: number
  readonly #pageSlots: number
  readonly #classes: readonly number[]
  /** Per class: free blocks as generation · 2^31 + reference (an entry of a page evacuated since is stale). */
  readonly #free: number[][]
  /** Per page: where its blocks end, its freed slots, its generation, and whether it holds one oversized block. */
  readonly #pageTop: number[] = []
  readonly #pageFree: number[] = []
  readonly #pageGeneration: number[] = []
  readonly #oversized: boolean[] = []
  readonly #emptyPages: number[] = []
  /**
   * A full-size page released by evacuation, kept for the next page: a new 2 MiB buffer is mapped afresh by the
   * kernel, a page fault per 4 KiB of it on first write. Its old contents are never read: every slot below a page's top is written (a block's capacity, then
   * its owner's data) before anything reads it. One page at most, so a partition holds at most 2 MiB unused.
   */
  #sparePage: Float64Array | undefined
  #bumpPage = -1
  #liveSlots = 0
  #freeSlots = 0

  constructor(options: CardArenaOptions = {}) {
    this.#pageBits = options.pageBits ?? 18
    this.#pageSlots = 1 << this.#pageBits
    this.#classes = classCapacities(this.#pageSlots)
    this.#free = this.#classes.map(() => [])
  }

  /** Slots held by live blocks (their capacity). */
  get liveSlots(): number {
    return this.#liveSlots
  }

  /** Slots of the pages in use, live or not. */
  get pageSlots(): number {
    return this.pages.reduce((total, page) => total + page.length, 0)
  }

  /** A block of at least `slots` slots (its capacity in slot 0); returns its reference. */
  allocate(slots: number): number {
    const sizeClass = this.#classOf(slots)
    if (sizeClass === this.#classes.length) return this.#allocateOversized(slots)
    const capacity = this.#classes[sizeClass]!
    const ref = this.#popFree(sizeClass) ?? this.#bump(capacity)
    this.pageOf(ref)[this.offsetOf(ref)] = capacity
    this.#liveSlots += capacity
    return ref
  }

  free(ref: number): void {
    const page = this.pageOf(ref)
    const offset = this.offsetOf(ref)
    const capacity = page[offset]!
    this.#liveSlots -= capacity
    const index = ref >>> this.#pageBits
    if (this.#oversized[index]) {
      this.#releasePage(index)
      return
    }
    page[offset] = -capacity
    this.#pageFree[index]! += capacity
    this.#freeSlots += capacity
    this.#free[this.#classOf(capacity)]!.push(this.#pageGeneration[index]! * 2 ** MAX_REF_BITS + ref)
  }

  pageOf(ref: number): Float64Array {
    return this.pages[ref >>> this.#pageBits]!
  }

  /** Offset of the block's first slot in its page. */
  offsetOf(ref: number): number {
    return ref & (this.#pageSlots - 1)
  }

  /**
   * While freed slots exceed a twelfth of all page slots, evacuates the page with the most freed slots if at least
   * a quarter of it is free (copying more live data than that frees is poor value), at most `maxPages` (bounding the
   * pause: a 2 MiB page copies in a few milliseconds). Each live block moves to fresh space and `moved(from, to)` lets
   * the owner update its reference. Returns the pages evacuated.
   */
  compact(moved: (from: number, to: number) => void, maxPages = 4): number {
    let evacuated = 0
    while (evacuated < maxPages && this.#freeSlots * 12 > this.pageSlots) {
      let victim = -1
      for (let index = 0; index < this.pages.length; index++) {
        if (index === this.#bumpPage || this.#oversized[index] || this.pages[index]!.length === 0) continue
        if (victim < 0 || this.#pageFree[index]! > this.#pageFree[victim]!) victim = index
      }
      if (victim < 0 || this.#pageFree[victim]! * 4 < this.pages[victim]!.length) break
      this.#evacuate(victim, moved)
      evacuated++
    }
    return evacuated
  }

  #evacuate(index: number, moved: (from: number, to: number) => void): void {
    const page = this.pages[index]!
    const top = this.#pageTop[index]!
    for (let offset = 0; offset < top;) {
      const capacity = page[offset]!
      // Blocks tile a page up to its top, each starting with its (signed) capacity: a zero would loop forever.
      if (capacity === 0)
        throw new FraudstreamError(
          ErrorCode.internal,
          `card arena: page ${index} has no block at ${offset} below its top ${top}`,
          'internal',
        )
      if (capacity > 0) {
        const to = this.#bump(capacity)
        const target = this.pageOf(to)
        copySlots(page, offset, offset + capacity, target, this.offsetOf(to))
        moved((index << this.#pageBits) | offset, to)
      }
      offset += Math.abs(capacity)
    }
    this.#freeSlots -= this.#pageFree[index]!
    this.#releasePage(index)
  }

  #popFree(sizeClass: number): number | undefined {
    const list = this.#free[sizeClass]!
    for (let entry = list.pop(); entry !== undefined; entry = list.pop()) {
      const ref = entry % 2 ** MAX_REF_BITS
      const index = ref >>> this.#pageBits
      // An entry from before its page was evacuated points into reused space.
      if (Math.floor(entry / 2 ** MAX_REF_BITS) !== this.#pageGeneration[index]) continue
      const capacity = this.#classes[sizeClass]!
      this.#pageFree[index]! -= capacity
      this.#freeSlots -= capacity
      return ref
    }
    return undefined
  }

  /** Fresh space at the end of the bump page (a new page when it is full; its unused end stays unused). */
  #bump(capacity: number): number {
    if (this.#bumpPage < 0 || this.#pageTop[this.#bumpPage]! + capacity > this.pages[this.#bumpPage]!.length) {
      // Pages start small and double up to the full size: a partition holding a few cards costs kilobytes, not a
      // 2 MiB page (an instance may own hundreds of partitions).
      const size = Math.min(
        this.#pageSlots,
        Math.max(MIN_PAGE_SLOTS, capacity, 2 ** Math.ceil(Math.log2(Math.max(1, this.#liveSlots)))),
      )
      this.#bumpPage = this.#addPage(size, false)
    }
    const offset = this.#pageTop[this.#bumpPage]!
    this.#pageTop[this.#bumpPage] = offset + capacity
    return (this.#bumpPage << this.#pageBits) | offset
  }

  #allocateOversized(slots: number): number {
    const ref = this.#addPage(slots, true) << this.#pageBits
    this.pageOf(ref)[0] = slots
    this.#liveSlots += slots
    return ref
  }

  /** A new page (or a released one's index): its index. */
  #addPage(slots: number, oversized: boolean): number {
    const index = this.#emptyPages.pop() ?? this.pages.length
    if (index >= 2 ** (MAX_REF_BITS - this.#pageBits))
      throw new FraudstreamError(
        ErrorCode.internal,
        `card arena: more than ${2 ** (MAX_REF_BITS - this.#pageBits)} pages`,
        'internal',
      )
    const spare = slots === this.#pageSlots ? this.#sparePage : undefined
    if (spare) this.#sparePage = undefined
    this.pages[index] = spare ?? new Float64Array(slots)
    this.#pageTop[index] = oversized ? slots : 0
    this.#pageFree[index] = 0
    this.#pageGeneration[index] ??= 0
    this.#oversized[index] = oversized
    return index
  }

  /**
   * The page leaves the arena (a full-size one stays as the spare); free-list entries into it turn stale (its
   * generation advances).
   */
  #releasePage(index: number): void {
    if (this.pages[index]!.length === this.#pageSlots) this.#sparePage = this.pages[index]
    this.pages[index] = EMPTY_PAGE
    this.#pageGeneration[index]!++
    this.#pageTop[index] = 0
    this.#pageFree[index] = 0
    this.#emptyPages.push(index)
  }

  #classOf(slots: number): number {
    const classes = this.#classes
    let lo = 0
    let hi = classes.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (classes[mid]! < slots) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

const EMPTY_PAGE = new Float64Array(0)

/** Copies from[start, end) to `to` at `at` (ranges of different blocks: they never overlap). */
export function copySlots(from: Float64Array, start: number, end: number, to: Float64Array, at: number): void {
  for (let i = start; i < end; i++) to[at + i - start] = from[i]!
}
