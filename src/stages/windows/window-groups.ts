import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { Transaction } from '../../core/transaction-v1.js'
import type { DistinctField, FeatureDefinition, WindowFilter, WindowKey } from '../features/feature-definition.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/**
 * Window features that share a key, a filter and a delay form a group: one scan per group and transaction, however
 * many spans and aggregations its features ask for. Groups that differ only in delay share one event store.
 */
export interface WindowGroup {
  readonly id: string
  /** The event store the group reads: one per key and filter. */
  readonly storeId: string
  readonly key: WindowKey
  readonly filter: WindowFilter | undefined
  /** Set for distinct_count groups: their store holds a hash of this field where others hold the amount. */
  readonly field: DistinctField | undefined
  readonly delayMs: number
  /** Distinct spans of the group's features, ascending; a feature reads slot `spans.indexOf(spanMs)`. */
  readonly spans: readonly number[]
  /** How much history its store must keep for this group: the longest span plus the delay. */
  readonly horizonMs: number
}

/** The unfiltered card store: it exists for every feature set and decides lateness. */
export const PRIMARY_STORE_ID = 'card|'
const PRIMARY_GROUP_ID = 'card||0'

export function storeIdOf(group: { key: WindowKey; filter?: WindowFilter | undefined; field?: DistinctField | undefined }): string {
  return group.field ? `${group.key}|${group.filter ?? ''}|${group.field}` : `${group.key}|${group.filter ?? ''}`
}

export interface WindowStoreSpec {
  readonly horizonMs: number
  readonly key: WindowKey
  readonly filter: WindowFilter | undefined
  readonly field: DistinctField | undefined
}

/** Each store's id with the history it must keep: the longest horizon of the groups reading it. */
export function windowStoresOf(groups: readonly WindowGroup[]): Map<string, WindowStoreSpec> {
  const stores = new Map<string, WindowStoreSpec>()
  for (const group of groups) {
    const known = stores.get(group.storeId)
    stores.set(group.storeId, { horizonMs: Math.max(known?.horizonMs ?? 0, group.horizonMs), key: group.key, filter: group.filter, field: group.field })
  }
  return stores
}

export function groupIdOf(definition: { key: WindowKey; filter?: WindowFilter | undefined; field?: DistinctField | undefined; delayMs?: number | undefined }): string {
  return `${storeIdOf(definition)}|${definition.delayMs ?? 0}`
}

/** The groups a feature set needs; the unfiltered, undelayed card group always exists (it decides lateness). */
export function windowGroupsOf(definitions: readonly FeatureDefinition[]): WindowGroup[] {
  const spansByGroup = new Map<string, { key: WindowKey; filter: WindowFilter | undefined; field: DistinctField | undefined; delayMs: number; spans: Set<number> }>()
  spansByGroup.set(PRIMARY_GROUP_ID, { key: 'card', filter: undefined, field: undefined, delayMs: 0, spans: new Set() })
  for (const d of definitions) {
    if (d.kind !== 'window') continue
    if ((d.aggregation === 'distinct_count') !== (d.field !== undefined)) {
      throw new FraudstreamError(ErrorCode.configInvalid, `window feature ${d.name}: ${d.field ? 'field is only for distinct_count' : 'distinct_count needs a field'}`, 'input')
    }
    const id = groupIdOf(d)
    let group = spansByGroup.get(id)
    if (!group) spansByGroup.set(id, (group = { key: d.key, filter: d.filter, field: d.field, delayMs: d.delayMs ?? 0, spans: new Set() }))
    group.spans.add(d.spanMs)
  }
  return [...spansByGroup].map(([id, g]) => {
    const spans = [...g.spans].sort((a, b) => a - b)
    return { id, storeId: storeIdOf(g), key: g.key, filter: g.filter, field: g.field, delayMs: g.delayMs, spans, horizonMs: (spans[spans.length - 1] ?? 0) + g.delayMs }
  })
}

/** The store key of a transaction in a group. NUL cannot occur in ids, so composite keys cannot collide. */
export function windowKeyOf(key: WindowKey, tx: Transaction): string {
  switch (key) {
    case 'card':
      return tx.card_id
    case 'card+merchant':
      return `${tx.card_id}\u0000${tx.merchant_id}`
    case 'card+terminal':
      return `${tx.card_id}\u0000${tx.terminal_id}`
    case 'card+country':
      return `${tx.card_id}\u0000${tx.country}`
  }
}

/**
 * What a store keeps per event besides its time: the amount, or for a distinct_count store a 52-bit hash of the
 * field (undefined when the transaction lacks it: it does not enter that store).
 */
export function storedValueOf(field: DistinctField | undefined, tx: Transaction): number | undefined {
  if (!field) return tx.amount
  const value = tx[field]
  return value === undefined ? undefined : hash52(value)
}

/** Two FNV-1a variants → 52 bits, exact in a double. */
export function hash52(text: string): number {
  let a = 0x811c9dc5
  let b = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15)
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff)
}

export function passesFilter(filter: WindowFilter | undefined, tx: Transaction): boolean {
  switch (filter) {
    case undefined:
      return true
    case 'abroad':
      return tx.country !== tx.card_country
    case 'card_not_present':
      return tx.channel === 'ecom' || tx.channel === 'moto'
    case 'night': {
      const hour = utcHour(tx.eventTimeMs)
      return hour >= 22 || hour < 6
    }
  }
}

export function utcHour(eventTimeMs: number): number {
  return Math.floor((((eventTimeMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS)
}
