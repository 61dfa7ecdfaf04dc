import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import { summarize, type KeyAggregate, type WindowSummary } from '../stages/lookups/key-aggregate.js'
import { LookupAggregator } from '../stages/lookups/lookup-aggregator.js'
import { sourceId, transactionFacts, type KeyedFact } from '../stages/lookups/lookup-facts.js'
import { fillLookups, requirementOf, type LookupPlan } from '../stages/lookups/lookup-plan.js'

/** The single source the offline transaction facts come from: file order is their offset order. */
const TX_SOURCE = sourceId('tx', 0)

/**
 * Eviction runs once the safe time has moved this share of the shortest horizon: a sweep visits every key, so
 * sweeping per bucket step would cost more than the lookups, and the tables still hold at most this much extra history.
 */
const EVICT_EVERY_HORIZON_SHARE = 8

/**
 * Lookup tables for one pass over a file, read as the stream reads them: each row waits until the tables are
 * complete up to its windows (every partition's watermark past its window end: no on-time fact below it can still
 * come), and buckets no row still to be read can reach are evicted by the live aggregator's rule (LookupAggregator
 * .evict, its completeness the least watermark). So the tables hold the longest lookup horizon, not the whole file,
 * and a lookup walks a bounded number of buckets however long the file.
 *
 * Labels are all known before the pass (they are a file of their own): their facts, placed at their transaction's
 * time, go into the tables as the rows' windows reach that time. A row counts the labels reported before its cutoff
 * whatever else the table holds, so this reads what the complete table would.
 *
 * A key's window summary is kept from one row to the next (a busy key's window is added up once per resolution step,
 * not once per row): nothing applied after a read lands inside a window read, since a transaction fact is at or above
 * its partition's watermark, past every window end read so far, and label facts enter in time order up to the window
 * ends read. The summaries go at each eviction.
 */
export class RollingLookups<Row extends { readonly tx: Transaction; readonly row: Float32Array }> {
  readonly #aggregator: LookupAggregator
  readonly #labelFacts: readonly KeyedFact[]
  #nextLabel = 0
  #sequence = 0
  /** Rows waiting for the tables, in file order: [row, the time its lookups are read at, the window end it needs]. */
  readonly #waiting: { row: Row; atMs: number; needsMs: number }[] = []
  #head = 0
  readonly #evictEveryMs: number
  #evictedAtMs = -Infinity
  /** Per key, the summary of the window it was last read over. */
  readonly #summaries = new Map<KeyAggregate, WindowSummary>()
  readonly #summaryOf = {
    summaryOf: (aggregate: KeyAggregate, startMs: number, endMs: number): WindowSummary => {
      const known = this.#summaries.get(aggregate)
      if (known && known.startMs === startMs && known.endMs === endMs) return known
      const summary = summarize(aggregate, startMs, endMs)
      this.#summaries.set(aggregate, summary)
      return summary
    },
  }
  /** The latest window end read: no fact may land below it (see the class comment). */
  #readBelowMs = -Infinity

  constructor(
    readonly plan: LookupPlan,
    labelFacts: readonly KeyedFact[],
  ) {
    this.#aggregator = new LookupAggregator(plan, [TX_SOURCE], { tracksChanges: false })
    // Stable: facts of one time keep the labels topic's order.
    this.#labelFacts = [...labelFacts].sort((a, b) => a.eventTimeMs - b.eventTimeMs)
    const shortest = Math.min(...plan.horizonMs.values())
    this.#evictEveryMs = Number.isFinite(shortest) ? shortest / EVICT_EVERY_HORIZON_SHARE : Infinity
  }

  /** Keys the tables hold now, for a bound on memory. */
  get keys(): number {
    return this.#aggregator.keys.size
  }

  /** Rows waiting for the tables. */
  get waiting(): number {
    return this.#waiting.length - this.#head
  }

  /**
   * A row of the file, in file order: its transaction's facts enter the tables unless it was late, and it waits for
   * them. `atMs`: when the stream reads its lookups (PartitionState.observe's lookupAtMs).
   */
  add(row: Row, late: boolean, atMs: number): void {
    if (!late) {
      if (row.tx.eventTimeMs < this.#readBelowMs) {
        throw new FraudstreamError(
          ErrorCode.internal,
          `an on-time transaction at ${row.tx.eventTimeMs} below a lookup window already read (${this.#readBelowMs})`,
          'internal',
        )
      }
      for (const fact of transactionFacts(this.plan, row.tx, TX_SOURCE, this.#sequence++)) this.#aggregator.apply(fact)
    }
    this.#waiting.push({ row, atMs, needsMs: requirementOf(this.plan, atMs).txMs })
  }

  /** Whether `ready(completeBelowMs)` would give a row. */
  hasReady(completeBelowMs: number): boolean {
    return this.#head < this.#waiting.length && this.#waiting[this.#head]!.needsMs <= completeBelowMs
  }

  /**
   * The rows whose tables are complete, in file order, with their lookup columns filled. `completeBelowMs`: no
   * transaction fact below it is still to come (the least watermark over the partitions); +∞ at the end of the file.
   */
  *ready(completeBelowMs: number): Generator<Row> {
    const waiting = this.#waiting
    while (this.#head < waiting.length) {
      const next = waiting[this.#head]!
      if (next.needsMs > completeBelowMs) break
      this.#head++
      this.#applyLabelsBelow(next.needsMs)
      if (next.needsMs > this.#readBelowMs) this.#readBelowMs = next.needsMs
      const keys = this.#aggregator.keys
      fillLookups(this.plan, next.row.row, next.row.tx, next.atMs, (key) => keys.get(key), 0, this.#summaryOf)
      yield next.row
    }
    if (this.#head > 1024 && this.#head * 2 > waiting.length) {
      waiting.splice(0, this.#head)
      this.#head = 0
    }
    this.#evict(completeBelowMs)
  }

  #applyLabelsBelow(endMs: number): void {
    const facts = this.#labelFacts
    while (this.#nextLabel < facts.length && facts[this.#nextLabel]!.eventTimeMs < endMs)
      this.#aggregator.apply(facts[this.#nextLabel++]!)
  }

  /**
   * Evicts below the oldest time a row still to be read looks up at: a row still waiting may read earlier than the
   * watermarks (a late one reads at its own partition's), and every later row reads at or above the watermarks.
   */
  #evict(completeBelowMs: number): void {
    let safeMs = completeBelowMs
    if (!Number.isFinite(safeMs) || safeMs - this.#evictedAtMs < this.#evictEveryMs) return
    for (let i = this.#head; i < this.#waiting.length; i++) safeMs = Math.min(safeMs, this.#waiting[i]!.atMs)
    this.#evictedAtMs = safeMs
    this.#aggregator.apply({ kind: 'marker', source: TX_SOURCE, watermarkMs: safeMs, idle: false, throughOffset: -1 })
    this.#aggregator.evict()
    this.#summaries.clear()
  }
}
