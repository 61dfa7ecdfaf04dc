import { pack, unpack } from 'msgpackr'
import type { SourceRecord } from '../../core/ports.js'
import type { Bucket, LabelEntry, TableEntry } from './key-aggregate.js'
import type { AggregatorProgress } from './lookup-aggregator.js'
import type { LookupTable } from './lookup-table.js'

// The tables topic's record format: the lookup task writes it, every instance's LookupTable reads it.

/** The key of an aggregator partition's progress record in the tables topic; table keys all start with a kind. */
export const PROGRESS_KEY = '~progress'

/**
 * A tables-topic record per bucket (`<key>|b|<start>` → [count, sum, applied, min, max, lastMs, ref, deviations,
 * squaredDeviations, distinct]) and per label (`<key>|l|<id>` → the label entry), so an update rewrites a few dozen
 * bytes, not a terminal's whole history; null = deleted. A bucket's distinct values are 9 bytes each (hashes): about
 * 100,000 of them fill Kafka's default 1 MB record.
 */
export function encodeTableEntry(entry: TableEntry): { key: string; value: Buffer | null } {
  if (entry.kind === 'bucket') {
    const b = entry.value
    const distinct = b && Object.fromEntries(Object.entries(b.distinct).map(([field, hashes]) => [field, [...hashes]]))
    return {
      key: `${entry.key}|b|${entry.start}`,
      value: b
        ? pack([b.count, b.sum, b.applied, b.min, b.max, b.lastMs, b.ref, b.deviations, b.squaredDeviations, distinct])
        : null,
    }
  }
  return { key: `${entry.key}|l|${entry.id}`, value: entry.value ? pack(entry.value) : null }
}

type EncodedBucket = [
  number,
  number,
  Record<string, number>,
  number,
  number,
  number,
  number,
  number,
  number,
  Record<string, number[]>,
]

function decodeBucket([
  count,
  sum,
  applied,
  min,
  max,
  lastMs,
  ref,
  deviations,
  squaredDeviations,
  distinct,
]: EncodedBucket): Bucket {
  return {
    count,
    sum,
    applied,
    min,
    max,
    lastMs,
    ref,
    deviations,
    squaredDeviations,
    distinct: Object.fromEntries(Object.entries(distinct).map(([field, hashes]) => [field, new Set(hashes)])),
  }
}

const TABLE_RECORD_KEY = /^(.*)\|([bl])\|([^|]+)$/

/** Applies records of the tables topic to an instance's table: entries, tombstones and progress records. */
export function applyTableRecords(table: LookupTable, records: readonly SourceRecord[]): void {
  for (const record of records) {
    const recordKey = record.key?.toString()
    if (recordKey === undefined) continue
    if (recordKey === PROGRESS_KEY) {
      table.setProgress(record.partition, unpack(record.value!) as AggregatorProgress)
      continue
    }
    const match = TABLE_RECORD_KEY.exec(recordKey)
    if (!match) continue
    const [, key, kind, id] = match as unknown as [string, string, 'b' | 'l', string]
    if (kind === 'b') {
      table.put(record.partition, {
        kind: 'bucket',
        key,
        start: Number(id),
        value: record.value ? decodeBucket(unpack(record.value) as EncodedBucket) : undefined,
      })
    } else
      table.put(record.partition, {
        kind: 'label',
        key,
        id,
        value: record.value ? (unpack(record.value) as LabelEntry) : undefined,
      })
  }
}
