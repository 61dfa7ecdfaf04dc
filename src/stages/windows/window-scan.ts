import type { Transaction } from '../../core/transaction-v1.js'
import type { DistinctField, WindowFilter } from '../features/feature-definition.js'
import { upperBound } from './card-windows.js'
import { hash52, utcHour, type WindowGroup } from './window-groups.js'

/** Per-span aggregates of a group, one slot per span. */
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

type HashedField = DistinctField | 'merchant_id' | 'terminal_id' | 'country'
const FLAG_ABROAD = 1
const FLAG_CARD_NOT_PRESENT = 2

/**
 * What the card log keeps per event besides its time: the amount, then one column per field a window key or a
 * distinct_count compares (a 52-bit hash; NaN when an optional field is absent), and a flags column when a filter
 * needs one. card+merchant windows are the card's events whose merchant hash equals the current one's.
 */
export interface EventLayout {
  readonly fields: readonly HashedField[]
  readonly hasFlags: boolean
  /** Numbers per event after the time. */
  readonly valuesPerEvent: number
  /** The event's values: [amount, field hashes…, flags?]. */
  fill(tx: Transaction, out: Float64Array): Float64Array
  /** Offset of a field's column within an event (the time is at 0, the amount at 1). */
  offsetOf(field: HashedField): number
  readonly flagsOffset: number
}

export function eventLayoutOf(groups: readonly WindowGroup[]): EventLayout {
  const fields = new Set<HashedField>()
  let hasFlags = false
  for (const group of groups) {
    if (group.key !== 'card') fields.add(keyField(group.key))
    if (group.field) fields.add(group.field)
    if (group.filter === 'abroad' || group.filter === 'card_not_present') hasFlags = true
  }
  const ordered = [...fields]
  const flagsOffset = hasFlags ? 2 + ordered.length : -1
  return {
    fields: ordered,
    hasFlags,
    valuesPerEvent: 1 + ordered.length + (hasFlags ? 1 : 0),
    flagsOffset,
    offsetOf: (field) => 2 + ordered.indexOf(field),
    fill: (tx, out) => {
      out[0] = tx.amount
      for (let i = 0; i < ordered.length; i++) {
        const value = tx[ordered[i]!]
        out[1 + i] = value === undefined ? NaN : hash52(value)
      }
      if (hasFlags) out[1 + ordered.length] = (tx.country !== tx.card_country ? FLAG_ABROAD : 0) | (tx.channel === 'ecom' || tx.channel === 'moto' ? FLAG_CARD_NOT_PRESENT : 0)
      return out
    },
  }
}

function keyField(key: WindowGroup['key']): HashedField {
  return key === 'card+merchant' ? 'merchant_id' : key === 'card+terminal' ? 'terminal_id' : 'country'
}

const SMALL_DISTINCT = 64

/** One group's view of the current transaction's scan: what its features read. */
export class GroupScan {
  readonly stats: WindowStats
  /** distinct_count groups: distinct values per span. */
  readonly distinct: Float64Array
  /** The newest matching event at or before the window end (seconds_since_last). */
  previousMs: number | undefined
  /** Whether the current transaction belongs in the group's windows (no delay, passes the filter, has the field). */
  includesCurrent = false
  readonly #keyOffset: number
  readonly #fieldOffset: number
  readonly #seen = new Float64Array(SMALL_DISTINCT)
  #seenCount = 0
  #overflow: Set<number> | undefined
  #keyValue = NaN
  #slot = 0
  #done = false

  constructor(readonly group: WindowGroup, readonly layout: EventLayout) {
    this.stats = createWindowStats(group.spans.length)
    this.distinct = new Float64Array(group.spans.length)
    this.#keyOffset = group.key === 'card' ? -1 : layout.offsetOf(keyField(group.key))
    this.#fieldOffset = group.field ? layout.offsetOf(group.field) : -1
  }

  reset(tx: Transaction, current: Float64Array): void {
    const { counts, sums, sumSquares, mins, maxs } = this.stats
    // A loop, not fill(): these arrays hold a few slots, and fill's call costs more than the stores.
    for (let k = 0; k < counts.length; k++) {
      counts[k] = 0
      sums[k] = 0
      sumSquares[k] = 0
      mins[k] = Infinity
      maxs[k] = -Infinity
    }
    this.previousMs = undefined
    this.#slot = 0
    this.#done = this.group.spans.length === 0
    this.#keyValue = this.#keyOffset >= 0 ? current[this.#keyOffset - 1]! : NaN
    const field = this.#fieldOffset >= 0 ? current[this.#fieldOffset - 1]! : 0
    this.includesCurrent = this.group.delayMs === 0 && passes(this.group.filter, current[this.layout.flagsOffset - 1] ?? 0, tx.eventTimeMs) && !Number.isNaN(field)
    this.#seenCount = 0
    this.#overflow = undefined
    if (this.#fieldOffset >= 0 && this.includesCurrent) this.#seen[this.#seenCount++] = field
  }

  /** Offers the next older event (at `base` of the history); false once the group needs no older ones. */
  visit(history: readonly number[], base: number, atMs: number): boolean {
    if (this.#done) return false
    const eventMs = history[base]!
    const age = atMs - this.group.delayMs - eventMs
    if (age < 0) return true
    const spans = this.group.spans
    while (this.#slot < spans.length && age >= spans[this.#slot]!) {
      if (this.#fieldOffset >= 0) this.distinct[this.#slot] = this.#distinctCount
      this.#slot++
    }
    if (this.#slot === spans.length) {
      this.#done = true
      return false
    }
    if (this.#keyOffset >= 0 && history[base + this.#keyOffset] !== this.#keyValue) return true
    if (this.group.filter && !passes(this.group.filter, history[base + this.layout.flagsOffset]!, eventMs)) return true
    if (this.#fieldOffset >= 0) {
      const value = history[base + this.#fieldOffset]!
      if (!Number.isNaN(value)) this.#addDistinct(value)
      return true
    }
    this.previousMs ??= eventMs
    const amount = history[base + 1]!
    const k = this.#slot
    const { counts, sums, sumSquares, mins, maxs } = this.stats
    counts[k]!++
    sums[k]! += amount
    sumSquares[k]! += amount * amount
    if (amount < mins[k]!) mins[k] = amount
    if (amount > maxs[k]!) maxs[k] = amount
    return true
  }

  /**
   * After the pass: each event was booked under the smallest span holding it, and larger spans hold it too; then
   * the current transaction joins every span when the group includes it. `stats` then hold the windows' values.
   */
  finish(amount: number): void {
    const spanCount = this.group.spans.length
    if (this.#fieldOffset >= 0) {
      for (let k = this.#slot; k < spanCount; k++) this.distinct[k] = this.#distinctCount
      return
    }
    const { counts, sums, sumSquares, mins, maxs } = this.stats
    for (let j = 1; j < spanCount; j++) {
      counts[j]! += counts[j - 1]!
      sums[j]! += sums[j - 1]!
      sumSquares[j]! += sumSquares[j - 1]!
      if (mins[j - 1]! < mins[j]!) mins[j] = mins[j - 1]!
      if (maxs[j - 1]! > maxs[j]!) maxs[j] = maxs[j - 1]!
    }
    if (!this.includesCurrent) return
    for (let j = 0; j < spanCount; j++) {
      counts[j]!++
      sums[j]! += amount
      sumSquares[j]! += amount * amount
      if (amount < mins[j]!) mins[j] = amount
      if (amount > maxs[j]!) maxs[j] = amount
    }
  }

  get #distinctCount(): number {
    return this.#overflow ? this.#overflow.size : this.#seenCount
  }

  /** A small array searched linearly (faster than a Set for the few values a card's window holds), a Set past 64. */
  #addDistinct(value: number): void {
    if (this.#overflow) {
      this.#overflow.add(value)
      return
    }
    for (let j = 0; j < this.#seenCount; j++) if (this.#seen[j] === value) return
    if (this.#seenCount < SMALL_DISTINCT) this.#seen[this.#seenCount++] = value
    else {
      this.#overflow = new Set(this.#seen)
      this.#overflow.add(value)
    }
  }
}

/**
 * Every group's windows for the current transaction in one backward pass over the card's events (newest first),
 * stopping when no group needs older ones.
 */
export function scanGroups(history: readonly number[] | undefined, stride: number, tx: Transaction, current: Float64Array, scans: readonly GroupScan[]): void {
  for (const scan of scans) scan.reset(tx, current)
  if (history) {
    const atMs = tx.eventTimeMs
    for (let i = upperBound(history, stride, atMs) - 1; i >= 0; i--) {
      const base = i * stride
      let wanted = false
      for (let g = 0; g < scans.length; g++) if (scans[g]!.visit(history, base, atMs)) wanted = true
      if (!wanted) break
    }
  }
  for (const scan of scans) scan.finish(tx.amount)
}

function passes(filter: WindowFilter | undefined, flags: number, eventTimeMs: number): boolean {
  switch (filter) {
    case undefined:
      return true
    case 'abroad':
      return (flags & FLAG_ABROAD) !== 0
    case 'card_not_present':
      return (flags & FLAG_CARD_NOT_PRESENT) !== 0
    case 'night': {
      const hour = utcHour(eventTimeMs)
      return hour >= 22 || hour < 6
    }
  }
}
