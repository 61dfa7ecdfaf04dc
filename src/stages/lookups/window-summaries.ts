import { summarize, type KeyAggregate, type TableEntry, type WindowSummary } from './key-aggregate.js'

/** A key's windows move on with time (one per feature window and resolution step): older ones are read no more. */
const SUMMARIES_PER_KEY = 4

/**
 * The window summaries of a lookup table's keys, kept until a record inside one of them changes. A transaction's
 * windows end delayMs before it, so the records that change all the time (the current hour's buckets) lie outside
 * every window read: a busy terminal's summary is worked out once per resolution step, not once per transaction.
 *
 * | record put                        | summaries of its key that go          |
 * |-----------------------------------|---------------------------------------|
 * | bucket starting in [start, end)   | that window's                         |
 * | bucket starting at or after end   | none (the usual case: the open hour)  |
 * | label (added or deleted)          | every fraud count, the rest stays     |
 */
export class WindowSummaries {
  readonly #byAggregate = new WeakMap<KeyAggregate, WindowSummary[]>()

  summaryOf(aggregate: KeyAggregate, startMs: number, endMs: number): WindowSummary {
    let summaries = this.#byAggregate.get(aggregate)
    if (summaries) for (const s of summaries) if (s.startMs === startMs && s.endMs === endMs) return s
    const summary = summarize(aggregate, startMs, endMs)
    if (!summaries) this.#byAggregate.set(aggregate, (summaries = []))
    if (summaries.length >= SUMMARIES_PER_KEY) summaries.shift()
    summaries.push(summary)
    return summary
  }

  /** Call before `entry` is put into `aggregate` (its key's). */
  changing(aggregate: KeyAggregate, entry: TableEntry): void {
    const summaries = this.#byAggregate.get(aggregate)
    if (!summaries) return
    if (entry.kind === 'label') {
      for (const s of summaries) s.fraudBelow = undefined
      return
    }
    const kept = summaries.filter((s) => entry.start < s.startMs || entry.start >= s.endMs)
    if (kept.length === summaries.length) return
    if (kept.length === 0) this.#byAggregate.delete(aggregate)
    else this.#byAggregate.set(aggregate, kept)
  }
}
