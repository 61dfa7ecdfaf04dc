import type { LookupKey } from '../features/feature-definition.js'
import {
  addToBucket,
  emptyAggregate,
  emptyBucket,
  putEntry,
  type KeyAggregate,
  type TableEntry,
} from './key-aggregate.js'
import { sourceKindOf, type LookupFact, type SourceKind } from './lookup-facts.js'
import type { LookupPlan } from './lookup-plan.js'

export interface SourceMarker {
  readonly watermarkMs: number
  readonly idle: boolean
  readonly throughOffset: number
  /** A labels source with labels waiting for their transaction: see the marker fact (lookup-facts.ts). */
  readonly heldFromMs?: number | undefined
  readonly readThroughOffset?: number | undefined
}

/** A source's marker in a progress record; the last two only while labels wait for their transaction. */
export type ProgressMarker = readonly [
  source: string,
  watermarkMs: number,
  idle: boolean,
  throughOffset: number,
  heldFromMs?: number,
  readThroughOffset?: number,
]

/** What a table needs to know about an aggregator partition besides its keys: how complete it is. */
export interface AggregatorProgress {
  /** Every transaction fact with an event time below this is applied, and its bucket published. */
  readonly txMs: number
  /**
   * The oldest bucket the aggregator changed and holds back (LookupAggregator.takeChanges): a window reaching it
   * is not in the table yet, whatever the markers say. Absent: none (and in progress records of earlier versions).
   */
  readonly heldFromMs?: number
  /** Every label reported before this is applied. */
  readonly labelsMs: number
  readonly markers: readonly ProgressMarker[]
}

/**
 * The lookup aggregates of one lookup-facts partition (a share of the terminals and merchants). Pure: the runtime
 * feeds it facts in partition order and publishes `takeChanges()` to the compacted tables topic.
 *
 * Completeness is the minimum over the expected sources' watermarks, skipping idle ones; a source that never
 * reported holds it at −∞, so nothing is taken as complete before every partition of the inputs has spoken.
 */
export class LookupAggregator {
  readonly keys = new Map<string, KeyAggregate>()
  readonly markers = new Map<string, SourceMarker>()
  /** Changed records per key: a bucket by its start (a number), a label by its id (a string). */
  readonly #dirty = new Map<string, Set<number | string>>()
  /** Changed buckets kept back by takeChanges: the keys per bucket start, and the oldest start among them (+∞: none). */
  readonly #held = new Map<number, Set<string>>()
  #heldFromMs = Infinity
  readonly #tracksChanges: boolean
  /** The eviction pass under way (evict with maxKeys), if any. */
  #evicting: MapIterator<[string, KeyAggregate]> | undefined

  /**
   * `tracksChanges: false` for a table nothing publishes (offline): changed records are not remembered for
   * takeChanges, which would otherwise hold a name for every bucket ever touched.
   */
  constructor(
    readonly plan: LookupPlan,
    readonly expectedSources: readonly string[],
    readonly options: { readonly tracksChanges?: boolean } = {},
  ) {
    this.#tracksChanges = options.tracksChanges ?? true
  }

  /** Loads what the tables topic holds for this partition: its records and its last progress record. */
  restore(entries: Iterable<TableEntry>, progress: AggregatorProgress | undefined): void {
    for (const entry of entries) putEntry(this.keys, structuredClone(entry))
    for (const [source, watermarkMs, idle, throughOffset, heldFromMs, readThroughOffset] of progress?.markers ?? [])
      this.markers.set(source, { watermarkMs, idle, throughOffset, heldFromMs, readThroughOffset })
  }

  apply(fact: LookupFact): 'applied' | 'duplicate' | 'expired' {
    if (fact.kind === 'marker') {
      const known = this.markers.get(fact.source)
      // Watermarks only move forward: a new owner's first marker may be behind its predecessor's last one. A
      // transactions source's offset still moves: its facts through it are applied here all the same (the sender
      // learns from it which facts need no more waiting for). A labels source's offset stays with its watermark: the
      // pair is where a new owner resumes.
      // What waits goes with the idle claim it qualifies: both are the newest marker's.
      const held = { heldFromMs: fact.heldFromMs, readThroughOffset: fact.readThroughOffset }
      if (known && known.watermarkMs > fact.watermarkMs)
        this.markers.set(fact.source, {
          ...known,
          idle: fact.idle,
          throughOffset:
            sourceKindOf(fact.source) === 'tx'
              ? Math.max(known.throughOffset, fact.throughOffset)
              : known.throughOffset,
          ...held,
        })
      else
        this.markers.set(fact.source, {
          watermarkMs: fact.watermarkMs,
          idle: fact.idle,
          throughOffset: Math.max(known?.throughOffset ?? -1, fact.throughOffset),
          ...held,
        })
      return 'applied'
    }
    const kind = kindOf(fact.key)
    const resolutionMs = this.plan.resolutionMs.get(kind)
    // Older than every window still to be read, or of a key kind no feature reads (written under older definitions).
    if (resolutionMs === undefined || fact.eventTimeMs < this.#evictionCutMs(kind)) return 'expired'
    let aggregate = this.keys.get(fact.key)
    if (!aggregate) this.keys.set(fact.key, (aggregate = emptyAggregate()))
    if (fact.kind === 'tx') {
      const start = Math.floor(fact.eventTimeMs / resolutionMs) * resolutionMs
      let bucket = aggregate.buckets.get(start)
      if (bucket && (bucket.applied[fact.source] ?? -1) >= fact.offset) return 'duplicate'
      if (!bucket) aggregate.buckets.set(start, (bucket = emptyBucket()))
      addToBucket(bucket, fact)
      bucket.applied[fact.source] = fact.offset
      if (this.#tracksChanges) this.#markDirty(fact.key, start)
    } else {
      const id = `${fact.source}@${fact.offset}`
      if (aggregate.labels.has(id)) return 'duplicate'
      aggregate.labels.set(id, [fact.transactionId, fact.eventTimeMs, fact.reportedAtMs, fact.isFraud, fact.offset])
      if (this.#tracksChanges) this.#markDirty(fact.key, id)
    }
    return 'applied'
  }

  /** Every transaction fact below this is applied (published or not). */
  get appliedBelowMs(): number {
    return this.#completeBelow('tx')
  }

  /** What a table holding the published records has: buckets kept back cap the transactions' completeness. */
  get progress(): AggregatorProgress {
    return {
      txMs: Math.min(this.#completeBelow('tx'), this.#heldFromMs),
      ...(this.#heldFromMs < Infinity ? { heldFromMs: this.#heldFromMs } : {}),
      labelsMs: this.#completeBelow('labels'),
      markers: [...this.markers].map(([source, m]): ProgressMarker =>
        m.heldFromMs === undefined
          ? [source, m.watermarkMs, m.idle, m.throughOffset]
          : [source, m.watermarkMs, m.idle, m.throughOffset, m.heldFromMs, m.readThroughOffset ?? m.throughOffset],
      ),
    }
  }

  #completeBelow(kind: SourceKind): number {
    let min = Infinity
    for (const source of this.expectedSources) {
      if (sourceKindOf(source) !== kind) continue
      const marker = this.markers.get(source)
      if (!marker) return -Infinity
      // Idle: nothing more to come but the labels still waiting for their transaction, if any.
      min = Math.min(min, marker.idle ? (marker.heldFromMs ?? Infinity) : marker.watermarkMs)
    }
    return min
  }

  /**
   * Facts older than this can be in no window of a transaction still to be scored: every transaction source's
   * watermark (idle or not, and counting transactions still waiting for the table) minus the key kind's horizon.
   */
  #evictionCutMs(kind: LookupKey): number {
    let low = Infinity
    for (const source of this.expectedSources) {
      if (sourceKindOf(source) === 'tx') low = Math.min(low, this.markers.get(source)?.watermarkMs ?? -Infinity)
    }
    return low === Infinity ? -Infinity : low - this.plan.horizonMs.get(kind)!
  }

  /** An eviction pass in slices (evict with maxKeys) is under way. */
  get evicting(): boolean {
    return this.#evicting !== undefined
  }

  /**
   * Drops buckets and labels no future transaction can read; each becomes a tombstone. With `maxKeys`, one slice of a
   * pass over the keys, resumed where the last call stopped: true once the pass has reached the end (a key added
   * meanwhile is visited in it, one deleted is skipped: a Map's iterator sees both).
   */
  evict(maxKeys = Number.POSITIVE_INFINITY): boolean {
    if (maxKeys === Number.POSITIVE_INFINITY) this.#evicting = undefined
    const pass = (this.#evicting ??= this.keys.entries())
    for (let visited = 0; visited < maxKeys; visited++) {
      const next = pass.next()
      if (next.done) {
        this.#evicting = undefined
        return true
      }
      const [key, aggregate] = next.value
      const kind = kindOf(key)
      const resolutionMs = this.plan.resolutionMs.get(kind)
      const cutMs = resolutionMs === undefined ? Infinity : this.#evictionCutMs(kind)
      for (const start of aggregate.buckets.keys()) {
        if (start + (resolutionMs ?? 0) > cutMs) continue
        aggregate.buckets.delete(start)
        if (this.#tracksChanges) this.#markDirty(key, start)
      }
      for (const [id, label] of aggregate.labels) {
        if (label[1] >= cutMs) continue
        aggregate.labels.delete(id)
        if (this.#tracksChanges) this.#markDirty(key, id)
      }
      if (aggregate.buckets.size === 0 && aggregate.labels.size === 0) this.keys.delete(key)
    }
    return false
  }

  /**
   * Records changed since they were last taken, with their new value (undefined = deleted). Buckets starting at or
   * after `holdFromMs` stay back (Kafka Streams' record cache, flushed at commit): the open hour's bucket of a busy
   * terminal changes with every transaction, and no window reads it before a feature's delay has passed. A bucket held
   * earlier goes out as soon as the line passes it, so the table trails the aggregator by the hold and no more, however
   * fast event time runs (a replay, a catch-up); `progress` stops short of the oldest one held, so a table never
   * counts on a bucket it has not received.
   */
  takeChanges(holdFromMs = Infinity): TableEntry[] {
    for (const [start, keys] of this.#held) {
      if (start < holdFromMs) {
        for (const key of keys) this.#markDirty(key, start)
        this.#held.delete(start)
      }
    }
    const changes: TableEntry[] = []
    for (const [key, records] of this.#dirty) {
      const aggregate = this.keys.get(key)
      for (const record of records) {
        if (typeof record === 'string') {
          changes.push({ kind: 'label', key, id: record, value: aggregate?.labels.get(record) })
        } else if (record >= holdFromMs) {
          let keys = this.#held.get(record)
          if (!keys) this.#held.set(record, (keys = new Set()))
          keys.add(key)
        } else changes.push({ kind: 'bucket', key, start: record, value: aggregate?.buckets.get(record) })
      }
    }
    this.#dirty.clear()
    this.#heldFromMs = Infinity
    for (const start of this.#held.keys()) if (start < this.#heldFromMs) this.#heldFromMs = start
    return changes
  }

  #markDirty(key: string, record: number | string): void {
    if (!this.#tracksChanges) return
    let records = this.#dirty.get(key)
    if (!records) this.#dirty.set(key, (records = new Set()))
    records.add(record)
  }
}

function kindOf(key: string): LookupKey {
  return key.slice(0, key.indexOf(':')) as LookupKey
}
