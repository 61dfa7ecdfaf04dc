import type { Transaction } from '../../core/transaction-v1.js'
import type { FeatureDefinition, WindowFilter, WindowKey } from '../features/feature-definition.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/**
 * Window features that share a key, a filter and a delay read one event store: one store and one scan per group
 * and transaction, however many spans and aggregations the group's features ask for.
 */
export interface WindowGroup {
  readonly id: string
  readonly key: WindowKey
  readonly filter: WindowFilter | undefined
  readonly delayMs: number
  /** Distinct spans of the group's features, ascending; a feature reads slot `spans.indexOf(spanMs)`. */
  readonly spans: readonly number[]
  /** How much history the store keeps: the longest span plus the delay. */
  readonly horizonMs: number
}

export const PRIMARY_GROUP_ID = 'card||0'

export function groupIdOf(definition: { key: WindowKey; filter?: WindowFilter | undefined; delayMs?: number | undefined }): string {
  return `${definition.key}|${definition.filter ?? ''}|${definition.delayMs ?? 0}`
}

/** The groups a feature set needs; the unfiltered, undelayed card group always exists (it decides lateness). */
export function windowGroupsOf(definitions: readonly FeatureDefinition[]): WindowGroup[] {
  const spansByGroup = new Map<string, { key: WindowKey; filter: WindowFilter | undefined; delayMs: number; spans: Set<number> }>()
  spansByGroup.set(PRIMARY_GROUP_ID, { key: 'card', filter: undefined, delayMs: 0, spans: new Set() })
  for (const d of definitions) {
    if (d.kind !== 'window') continue
    const id = groupIdOf(d)
    let group = spansByGroup.get(id)
    if (!group) spansByGroup.set(id, (group = { key: d.key, filter: d.filter, delayMs: d.delayMs ?? 0, spans: new Set() }))
    group.spans.add(d.spanMs)
  }
  return [...spansByGroup].map(([id, g]) => {
    const spans = [...g.spans].sort((a, b) => a - b)
    return { id, key: g.key, filter: g.filter, delayMs: g.delayMs, spans, horizonMs: (spans[spans.length - 1] ?? 0) + g.delayMs }
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
