import type { LabelEntry } from '../stages/lookups/key-aggregate.js'
import type { WindowMemo } from './window-memo.js'

/**
 * A bucket's numbers, a key's `stride` a bucket: key-aggregate's Bucket without its objects, and its start. `ref` is
 * the bucket's first amount and `dev`, `sq` the sums of the deviations from it and of their squares (see Bucket.ref).
 * A key kind whose features read only counts keeps the first COUNT_STRIDE of them (a month of a terminal's buckets
 * then takes a third of the memory, and a third of the cache lines to read).
 */
export const COUNT = 0
export const START = 1
/** The counts of this bucket and every earlier one the key has had (evicted ones too): a window's count is a difference. */
export const CUM = 2
export const COUNT_STRIDE = 3
export const SUM = 3
export const MIN = 4
export const MAX = 5
export const LAST = 6
export const REF = 7
export const DEV = 8
export const SQ = 9
export const STRIDE = 10

/** Buckets a key has room for at first: typed arrays are costly to make, so a key should seldom grow. */
const FIRST_CAPACITY = 16

/**
 * One terminal's (or merchant's) history in an offline lookup table: its buckets in start order, side by side in
 * typed arrays, and its labels in the order they were applied. The live table's KeyAggregate holds the same counts as
 * a Map of bucket objects, each with its own objects for distinct values and applied offsets; a pass over a file
 * touches millions of buckets, and those objects were most of its allocations. Facts come nearly in time order, so a
 * bucket is almost always the last one or a new one after it, and eviction takes the oldest from the front.
 *
 * Slots `head` to `head + size` of `stats` (`stride` numbers each) hold the buckets, starts ascending: one array, so
 * that a bucket's start and numbers come in together.
 */
export class KeyHistory {
  stats: Float64Array
  head = 0
  size = 0
  /** Per slot (its length is head + size), per distinct field of the key kind (in the plan's order), the 52-bit hashes of the values seen. */
  distinct: ((Set<number> | undefined)[] | undefined)[] | undefined
  /** [transaction_id, transaction time, reported_at, is_fraud, label offset], as the live table's labels. */
  labels: LabelEntry[] = []
  /**
   * Whether `labels` are in transaction-time order (they come so in a pass over a file) and whether no transaction has
   * two of them: then a window's fraud count is a count of one run of labels (RollingTables' knownFraudIn). Once false,
   * false for the key's life.
   */
  labelsInOrder = true
  labelsUnique = true
  /** Per label, its transaction time, its reported_at and 1 for fraud (0 not), side by side: what a count reads. */
  labelNumbers: number[] = []
  /** Per window of the key kind (RollingTables' window list), what the key's buckets in it add up to, when read. */
  windows: (WindowMemo | undefined)[] | undefined

  /** `stride`: STRIDE, or COUNT_STRIDE when the kind's features read no more than counts. */
  constructor(
    readonly distinctFields: number,
    readonly stride = STRIDE,
  ) {
    this.stats = new Float64Array(FIRST_CAPACITY * stride)
    if (distinctFields > 0) this.distinct = []
  }

  /** Keeps a label, noting whether the labels stay in time order and one a transaction. */
  addLabel(label: LabelEntry): void {
    const labels = this.labels
    if (labels.length > 0 && label[1] < labels[labels.length - 1]![1]) this.labelsInOrder = false
    if (this.labelsUnique) for (const known of labels) if (known[0] === label[0]) this.labelsUnique = false
    labels.push(label)
    this.labelNumbers.push(label[1], label[2], label[3] ? 1 : 0)
  }

  /** The first slot, at or before `to`, of the buckets starting at or after `startMs` (binary search). */
  firstSlotFrom(startMs: number, to: number): number {
    const stats = this.stats
    let low = this.head
    let high = to
    while (low < high) {
      const mid = (low + high) >>> 1
      if (stats[mid * this.stride + START]! < startMs) low = mid + 1
      else high = mid
    }
    return low
  }

  get empty(): boolean {
    return this.size === 0 && this.labels.length === 0
  }

  /** The slot of the bucket starting at `startMs`, made (empty) when there is none. */
  slotOf(startMs: number): number {
    const stats = this.stats
    const end = this.head + this.size
    let at = end - 1
    while (at >= this.head && stats[at * this.stride + START]! > startMs) at--
    if (at >= this.head && stats[at * this.stride + START] === startMs) return at
    return this.#insert(at + 1, startMs)
  }

  /** One more transaction in the bucket of `slot`: its count and the running counts from it on. */
  count(slot: number): void {
    const stats = this.stats
    stats[slot * this.stride + COUNT]!++
    const end = this.head + this.size
    for (let at = slot; at < end; at++) stats[at * this.stride + CUM]!++
  }

  /** The transactions in the buckets of slots [from, to). */
  countIn(from: number, to: number): number {
    if (from >= to) return 0
    const stats = this.stats
    return stats[(to - 1) * this.stride + CUM]! - stats[from * this.stride + CUM]! + stats[from * this.stride + COUNT]!
  }

  /** The start of the bucket in `slot`. */
  startOf(slot: number): number {
    return this.stats[slot * this.stride + START]!
  }

  /** Drops the buckets ending at or before `cutMs` and the labels of transactions before it. */
  evictBefore(cutMs: number, resolutionMs: number): void {
    while (this.size > 0 && this.startOf(this.head) + resolutionMs <= cutMs) {
      if (this.distinct) this.distinct[this.head] = undefined
      this.head++
      this.size--
    }
    if (this.size === 0) {
      this.head = 0
      if (this.distinct) this.distinct.length = 0
    }
    const labels = this.labels
    const numbers = this.labelNumbers
    let kept = 0
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]![1] < cutMs) continue
      numbers[kept * 3] = numbers[i * 3]!
      numbers[kept * 3 + 1] = numbers[i * 3 + 1]!
      numbers[kept * 3 + 2] = numbers[i * 3 + 2]!
      labels[kept++] = labels[i]!
    }
    labels.length = kept
    numbers.length = kept * 3
  }

  /** A new empty bucket at slot `at` (between head and head + size), the later ones moved up one. */
  #insert(at: number, startMs: number): number {
    let end = this.head + this.size
    if (end * this.stride === this.stats.length) {
      const shift = this.head
      if (this.size * 2 * this.stride > this.stats.length) this.#grow()
      else {
        // Half empty at the front: move the buckets down instead of growing.
        this.stats.copyWithin(0, shift * this.stride, end * this.stride)
        if (this.distinct) this.distinct.copyWithin(0, shift, end).length = this.size
        this.head = 0
      }
      at -= shift
      end -= shift
    }
    if (at < end) {
      this.stats.copyWithin((at + 1) * this.stride, at * this.stride, end * this.stride)
      this.distinct?.splice(at, 0, undefined)
    } else if (this.distinct) this.distinct[at] = undefined
    const stats = this.stats
    const base = at * this.stride
    stats[base + START] = startMs
    stats[base + COUNT] = 0
    if (this.stride === STRIDE) {
      stats[base + SUM] = 0
      stats[base + MIN] = Infinity
      stats[base + MAX] = -Infinity
      stats[base + LAST] = -Infinity
      stats[base + REF] = 0
      stats[base + DEV] = 0
      stats[base + SQ] = 0
    }
    // The counts before it: the previous bucket's running count, or the next one's without its own.
    stats[base + CUM] =
      at > this.head
        ? stats[base - this.stride + CUM]!
        : at < end
          ? stats[base + this.stride + CUM]! - stats[base + this.stride + COUNT]!
          : 0
    this.size++
    return at
  }

  /** Twice the room, the buckets moved to the front. */
  #grow(): void {
    const { head, size } = this
    const stats = new Float64Array(this.stats.length * 2)
    stats.set(this.stats.subarray(head * this.stride, (head + size) * this.stride))
    this.stats = stats
    if (this.distinct) this.distinct = this.distinct.slice(head, head + size)
    this.head = 0
  }
}
