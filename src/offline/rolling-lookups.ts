import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import type { KeyedFact } from '../stages/lookups/lookup-facts.js'
import { windowEndMs, type LookupPlan } from '../stages/lookups/lookup-plan.js'
import { labelFactEntry, RollingTables, type LabelFactEntry } from './rolling-tables.js'

/**
 * Eviction runs once the safe time has moved this share of the shortest horizon: a sweep visits every key, so
 * sweeping per bucket step would cost more than the lookups, and the tables still hold at most this much extra history.
 */
const EVICT_EVERY_HORIZON_SHARE = 2

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
 * A key's window sums are kept from one row to the next (RollingTables' memos: a busy key's window is added up once
 * per resolution step, not once per row): nothing applied after a read lands inside a window read, since a
 * transaction fact is at or above its partition's watermark, past every window end read so far, and label facts enter
 * in time order up to the window ends read.
 */
export class RollingLookups<Row extends { readonly tx: Transaction; readonly row: Float32Array }> {
  readonly #tables: RollingTables
  readonly #labelFacts: readonly LabelFactEntry[]
  #nextLabel = 0
  /** Rows waiting for the tables, in file order, with the time their lookups are read at and the window end they need. */
  readonly #rows: Row[] = []
  readonly #atMs: number[] = []
  readonly #needsMs: number[] = []
  #head = 0
  readonly #evictEveryMs: number
  #evictedAtMs = -Infinity
  /** The latest window end read: no fact may land below it (see the class comment). */
  #readBelowMs = -Infinity

  constructor(
    readonly plan: LookupPlan,
    labelFacts: readonly KeyedFact[],
  ) {
    this.#tables = new RollingTables(plan)
    // Stable: facts of one time keep the labels topic's order.
    this.#labelFacts = [...labelFacts]
      .sort((a, b) => a.eventTimeMs - b.eventTimeMs)
      .flatMap((fact) => (fact.kind === 'label' ? [labelFactEntry(this.#tables, fact)] : []))
    const shortest = Math.min(...plan.horizonMs.values())
    this.#evictEveryMs = Number.isFinite(shortest) ? shortest / EVICT_EVERY_HORIZON_SHARE : Infinity
  }

  /** Keys the tables hold now, for a bound on memory. */
  get keys(): number {
    return this.#tables.keys
  }

  /** Rows waiting for the tables. */
  get waiting(): number {
    return this.#rows.length - this.#head
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
      this.#tables.addTransaction(row.tx)
    }
    // requirementOf's txMs: the latest window end of the row's lookups.
    let needsMs = -Infinity
    for (const { feature } of this.plan.columns) {
      const endMs = windowEndMs(feature, atMs)
      if (endMs > needsMs) needsMs = endMs
    }
    this.#rows.push(row)
    this.#atMs.push(atMs)
    this.#needsMs.push(needsMs)
  }

  /**
   * The next row whose tables are complete, in file order, with its lookup columns filled; undefined when the next
   * one waits. `completeBelowMs`: no transaction fact below it is still to come (the least watermark over the
   * partitions); +∞ at the end of the file.
   */
  next(completeBelowMs: number): Row | undefined {
    const head = this.#head
    if (head === this.#rows.length || this.#needsMs[head]! > completeBelowMs) {
      this.#settle(completeBelowMs)
      return undefined
    }
    const row = this.#rows[head]!
    const needsMs = this.#needsMs[head]!
    this.#head++
    this.#applyLabelsBelow(needsMs)
    if (needsMs > this.#readBelowMs) this.#readBelowMs = needsMs
    this.#tables.fill(row.row, row.tx, this.#atMs[head]!)
    return row
  }

  #applyLabelsBelow(endMs: number): void {
    const facts = this.#labelFacts
    while (this.#nextLabel < facts.length && facts[this.#nextLabel]!.entry[1] < endMs)
      this.#tables.addLabel(facts[this.#nextLabel++]!)
  }

  /** Once the ready rows are out: the queue's read part dropped now and then, and the tables evicted. */
  #settle(completeBelowMs: number): void {
    if (this.#head > 1024 && this.#head * 2 > this.#rows.length) {
      this.#rows.splice(0, this.#head)
      this.#atMs.splice(0, this.#head)
      this.#needsMs.splice(0, this.#head)
      this.#head = 0
    }
    this.#evict(completeBelowMs)
  }

  /**
   * Evicts below the oldest time a row still to be read looks up at: a row still waiting may read earlier than the
   * watermarks (a late one reads at its own partition's), and every later row reads at or above the watermarks.
   */
  #evict(completeBelowMs: number): void {
    let safeMs = completeBelowMs
    if (!Number.isFinite(safeMs) || safeMs - this.#evictedAtMs < this.#evictEveryMs) return
    for (let i = this.#head; i < this.#atMs.length; i++) safeMs = Math.min(safeMs, this.#atMs[i]!)
    this.#evictedAtMs = safeMs
    this.#tables.evict(safeMs)
  }
}
