import type { WindowFeature } from '../features/feature-definition.js'
import { FLAG_ABROAD, FLAG_CARD_NOT_PRESENT, type FieldReader } from './event-layout.js'
import { utcHour, type WindowGroup } from './window-groups.js'

// The expressions of the generated window pass (compile-windows.ts): an event's fields, filters, and each feature's
// value from its group's locals.

/** Where a field expression reads the event: the transaction (`current`) or the pass's event, through its columns. */
export type EventSource = 'current' | EventColumns

/**
 * The pass's reads of the event at `e`: each column, and each hash below which the codes word sits, becomes a local
 * computed once per event, however many groups read it, instead of a load (and an unpacking) per group.
 */
export class EventColumns {
  readonly #locals = new Map<string, string>()

  /** The local holding column `offset` of the event. */
  column(offset: number): string {
    return this.#local(`col${offset}`, `page[e + ${offset}]`)
  }

  /** The local holding `expression` (of columns), named `name`. */
  derived(name: string, expression: string): string {
    return this.#local(name, expression)
  }

  /** The declarations, in the order first used (a derived local after the columns it reads). */
  declarations(): string[] {
    return [...this.#locals].map(([name, expression]) => `const ${name} = ${expression}`)
  }

  #local(name: string, expression: string): string {
    this.#locals.set(name, expression)
    return name
  }
}

/** A field of an event: its hash column, or its bits of the codes column. */
export function fieldExpression(reader: FieldReader, source: EventSource): string {
  // `current` holds an event without its time: every offset is one less.
  const raw = source === 'current' ? `current[${reader.offset - 1}]` : source.column(reader.offset)
  if (reader.shift >= 0) return `((${raw} >>> ${reader.shift}) & ${reader.mask})`
  if (reader.codeBits === 0) return raw
  // A hash above the codes word: the column without its low bits (& takes a double's low 32 bits exactly).
  const hash = `(${raw} - (${raw} & ${2 ** reader.codeBits - 1}))`
  return source === 'current' ? hash : source.derived(`hash${reader.offset}`, hash)
}

export function filterExpression(filter: NonNullable<WindowGroup['filter']>, codes: string, eventMs: string): string {
  switch (filter) {
    case 'abroad':
      return `(${codes} & ${FLAG_ABROAD}) !== 0`
    case 'card_not_present':
      return `(${codes} & ${FLAG_CARD_NOT_PRESENT}) !== 0`
    case 'night':
      return `isNight(${eventMs})`
  }
}

export function isNight(eventTimeMs: number): boolean {
  const hour = utcHour(eventTimeMs)
  return hour >= 22 || hour < 6
}

export function columnExpression(feature: WindowFeature, g: number, k: number): string {
  const c = `c${g}_${k}`
  const s = `s${g}_${k}`
  const o = `o${g}_${k}`
  const q = `q${g}_${k}`
  switch (feature.aggregation) {
    case 'count':
      return c
    case 'sum':
      return s
    case 'mean':
      return `${c} > 0 ? ${s} / ${c} : 0`
    case 'min':
      return `lo${g}_${k} === Infinity ? 0 : lo${g}_${k}`
    case 'max':
      return `hi${g}_${k} === -Infinity ? 0 : hi${g}_${k}`
    case 'stddev':
      return `populationStddev(${c}, ${o}, ${q})`
    case 'zscore':
      return `zscore(amount, ${c}, ref${g}, ${o}, ${q})`
    case 'amount_over_mean':
      return `amountOverMean(amount, ${c}, ${s})`
    case 'seconds_since_last':
      return `(p${g} !== p${g} ? ${feature.spanMs} : Math.min(${feature.spanMs}, atMs - ${(feature.delayMs ?? 0) > 0 ? `${feature.delayMs} - ` : ''}p${g})) / 1000`
    case 'distinct_count':
      return `n${g}_${k}`
  }
}
