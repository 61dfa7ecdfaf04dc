import {
  validateFeature,
  type DistinctField,
  type FeatureDefinition,
  type WindowAggregation,
  type WindowFilter,
  type WindowKey,
} from '../features/feature-definition.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/**
 * Window features that share a key, a filter, a distinct field and a delay form a group: one set of running
 * aggregates per group in the card log's single backward pass, however many spans and aggregations its features ask.
 */
export interface WindowGroup {
  readonly id: string
  readonly key: WindowKey
  readonly filter: WindowFilter | undefined
  /** Set for distinct_count groups: they count different values of this field. */
  readonly field: DistinctField | undefined
  readonly delayMs: number
  /** Distinct spans of the group's features, ascending; a feature reads slot `spans.indexOf(spanMs)`. */
  readonly spans: readonly number[]
  /** How much history the card log must keep for this group: the longest span plus the delay. */
  readonly horizonMs: number
  /**
   * Card key, no filter or field, and only count and seconds_since_last: the group reads event times alone, so it
   * counts by binary search, and events older than every other group's horizon can shed their other values.
   */
  readonly readsTimesOnly: boolean
}

const TIME_ONLY_AGGREGATIONS: ReadonlySet<WindowAggregation> = new Set(['count', 'seconds_since_last'])

export function groupIdOf(definition: {
  key: WindowKey
  filter?: WindowFilter | undefined
  field?: DistinctField | undefined
  delayMs?: number | undefined
}): string {
  const base = `${definition.key}|${definition.filter ?? ''}`
  return `${definition.field ? `${base}|${definition.field}` : base}|${definition.delayMs ?? 0}`
}

/** The groups a feature set needs; the unfiltered, undelayed card group always exists (it decides lateness). */
export function windowGroupsOf(definitions: readonly FeatureDefinition[]): WindowGroup[] {
  const spansByGroup = new Map<
    string,
    {
      key: WindowKey
      filter: WindowFilter | undefined
      field: DistinctField | undefined
      delayMs: number
      spans: Set<number>
      timesOnly: boolean
    }
  >()
  for (const d of definitions) {
    if (d.kind !== 'window') continue
    validateFeature(d)
    const id = groupIdOf(d)
    let group = spansByGroup.get(id)
    if (!group)
      spansByGroup.set(
        id,
        (group = {
          key: d.key,
          filter: d.filter,
          field: d.field,
          delayMs: d.delayMs ?? 0,
          spans: new Set(),
          timesOnly: d.key === 'card' && !d.filter && !d.field,
        }),
      )
    group.spans.add(d.spanMs)
    if (!TIME_ONLY_AGGREGATIONS.has(d.aggregation)) group.timesOnly = false
  }
  return [...spansByGroup].map(([id, g]) => {
    const spans = [...g.spans].sort((a, b) => a - b)
    return {
      id,
      key: g.key,
      filter: g.filter,
      field: g.field,
      delayMs: g.delayMs,
      spans,
      horizonMs: (spans[spans.length - 1] ?? 0) + g.delayMs,
      readsTimesOnly: g.timesOnly,
    }
  })
}

/**
 * The history the card log keeps, from the window groups: `horizonMs`, the longest span + delay of any group (an
 * event older than that behind the watermark expires); `attributesHorizonMs`, the longest of the groups that read
 * more than times (an event older than that keeps only its time).
 */
export function logHorizonsOf(groups: readonly WindowGroup[]): { horizonMs: number; attributesHorizonMs: number } {
  const horizonMs = groups.reduce((longest, group) => Math.max(longest, group.horizonMs), 0)
  const attributesHorizonMs = groups.reduce(
    (longest, group) => (group.readsTimesOnly ? longest : Math.max(longest, group.horizonMs)),
    0,
  )
  return { horizonMs, attributesHorizonMs }
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

export function utcHour(eventTimeMs: number): number {
  return Math.floor((((eventTimeMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS)
}
