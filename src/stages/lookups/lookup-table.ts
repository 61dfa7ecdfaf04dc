import { entriesOf, putEntry, type KeyAggregate, type TableEntry } from './key-aggregate.js'
import type { AggregatorProgress } from './lookup-aggregator.js'
import type { LookupRequirement } from './lookup-plan.js'
import { aggregatorCovers, type SourceKnowledge } from './table-coverage.js'
import { WindowSummaries } from './window-summaries.js'

/**
 * The tables topic held in memory (Kafka Streams' GlobalKTable): every key of every aggregator partition, and each
 * partition's progress. Complete below a time = complete below it in every partition; a partition that has not
 * published progress yet makes the table incomplete.
 */
export class LookupTable {
  /** Keys per tables-topic partition: a restoring aggregator takes its partition's. */
  readonly #partitions: Map<string, KeyAggregate>[]
  readonly #progress = new Map<number, AggregatorProgress>()
  #listeners: (() => void)[] = []
  /** What fillLookups reads the features from. */
  readonly summaries = new WindowSummaries()

  constructor(readonly partitions: number) {
    this.#partitions = Array.from({ length: partitions }, () => new Map())
  }

  get size(): number {
    return this.#partitions.reduce((total, keys) => total + keys.size, 0)
  }

  get(key: string): KeyAggregate | undefined {
    for (const keys of this.#partitions) {
      const found = keys.get(key)
      if (found) return found
    }
    return undefined
  }

  put(partition: number, entry: TableEntry): void {
    const keys = this.#partitions[partition]!
    const aggregate = keys.get(entry.key)
    if (aggregate) this.summaries.changing(aggregate, entry)
    putEntry(keys, entry)
  }

  setProgress(partition: number, progress: AggregatorProgress): void {
    this.#progress.set(partition, progress)
    for (const listener of this.#listeners) listener()
  }

  progressOf(partition: number): AggregatorProgress | undefined {
    return this.#progress.get(partition)
  }

  *entriesOf(partition: number): Generator<TableEntry> {
    for (const [key, aggregate] of this.#partitions[partition]!) yield* entriesOf(key, aggregate)
  }

  /** The table is complete below these times (−∞ until every partition has published progress). */
  get completeness(): LookupRequirement {
    let txMs = Infinity
    let labelsMs = Infinity
    for (let p = 0; p < this.partitions; p++) {
      const progress = this.#progress.get(p)
      if (!progress) return { txMs: -Infinity, labelsMs: -Infinity }
      txMs = Math.min(txMs, progress.txMs)
      labelsMs = Math.min(labelsMs, progress.labelsMs)
    }
    return { txMs, labelsMs }
  }

  /**
   * Whether the tables hold every fact a transaction's lookups need. With `knowledge` (the lookups stage's), the
   * facts are judged per source (aggregatorCovers): this instance's own partitions by what it has read and sent, idle
   * claims only when a fresh log end confirms them. Without it, by the markers as published.
   */
  covers(requirement: LookupRequirement, knowledge?: SourceKnowledge): boolean {
    if (!knowledge) {
      const { txMs, labelsMs } = this.completeness
      return txMs >= requirement.txMs && labelsMs >= requirement.labelsMs
    }
    let covered = true
    for (let p = 0; p < this.partitions; p++) {
      const progress = this.#progress.get(p)
      if (!progress) return false
      // Every partition is judged, so that every log end some partition needs is asked for at once.
      if (!aggregatorCovers(progress, requirement, knowledge)) covered = false
    }
    return covered
  }

  /** Runs after every progress record: the moment waiting transactions may have become scorable. */
  onProgress(listener: () => void): () => void {
    this.#listeners.push(listener)
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener)
    }
  }
}
