import { Channel, type Transaction } from '../../core/transaction-v1.js'
import type { DistinctField } from '../features/feature-definition.js'
import { hash52, type WindowGroup } from './window-groups.js'

/** Fields a window key or a distinct_count compares. */
export type EventField = DistinctField

/**
 * Fields with few possible values, kept exactly as small codes packed into one column (no hash, no collision):
 * flags (2 bits) | channel (2) | country (10: 26² alpha-2 codes) | mcc (14: 4 digits) = 28 bits. Below 2^31, bit
 * operations on the column stay on the CPU's fast integer path (a larger double takes V8's slow truncation).
 * Currency, rarely compared, gets a hashed column when a window needs it.
 */
type CodedField = 'country' | 'mcc' | 'channel'
const CODED: Record<CodedField, { readonly shift: number; readonly mask: number }> = {
  channel: { shift: 2, mask: 0x3 },
  country: { shift: 4, mask: 0x3ff },
  mcc: { shift: 14, mask: 0x3fff },
}
export const FLAG_ABROAD = 1
export const FLAG_CARD_NOT_PRESENT = 2

function isCoded(field: EventField): field is CodedField {
  return field in CODED
}

/** Where a field lives in an event: a column holding its 52-bit hash, or bits of the codes column. */
export interface FieldReader {
  /** Offset within an event (the time is at 0, the amount at 1). */
  readonly offset: number
  /** -1 for a hashed column (the value is the column); otherwise the code's first bit in the codes column. */
  readonly shift: number
  readonly mask: number
}

/**
 * What the card log keeps per event besides its time: the amount, a 52-bit hash per other field a window key or
 * distinct_count compares (merchant, terminal, device, ip, currency; NaN when an optional field is absent), and,
 * when a group needs country, mcc, channel or the abroad / card-not-present flags, one column packing them all
 * exactly. card+merchant windows are the card's events whose merchant hash equals the current one's.
 */
export interface EventLayout {
  readonly hashedFields: readonly EventField[]
  /** Offset of the codes column within an event, -1 without one. */
  readonly codesOffset: number
  /** Numbers per event after the time. */
  readonly valuesPerEvent: number
  reader(field: EventField): FieldReader
  /** The event's values: [amount, field hashes…, codes?]. */
  fill(tx: Transaction, out: Float64Array): Float64Array
}

export function eventLayoutOf(groups: readonly WindowGroup[]): EventLayout {
  const hashed = new Set<EventField>()
  let hasCodes = false
  for (const group of groups) {
    for (const field of fieldsOf(group)) {
      if (isCoded(field)) hasCodes = true
      else hashed.add(field)
    }
    if (group.filter === 'abroad' || group.filter === 'card_not_present') hasCodes = true
  }
  const hashedFields = [...hashed]
  const codesOffset = hasCodes ? 2 + hashedFields.length : -1
  return {
    hashedFields,
    codesOffset,
    valuesPerEvent: 1 + hashedFields.length + (hasCodes ? 1 : 0),
    reader: (field) => {
      if (isCoded(field)) return { offset: codesOffset, ...CODED[field] }
      return { offset: 2 + hashedFields.indexOf(field), shift: -1, mask: 0 }
    },
    fill: (tx, out) => {
      out[0] = tx.amount
      for (let i = 0; i < hashedFields.length; i++) {
        const value = tx[hashedFields[i]!]
        out[1 + i] = value === undefined ? NaN : hash52(value)
      }
      if (hasCodes) out[codesOffset - 1] = codesOf(tx)
      return out
    },
  }
}

/** The fields a group compares: its key's second part and its distinct field. */
function fieldsOf(group: WindowGroup): EventField[] {
  const fields: EventField[] = []
  if (group.key !== 'card') fields.push(keyField(group.key))
  if (group.field) fields.push(group.field)
  return fields
}

export function keyField(key: Exclude<WindowGroup['key'], 'card'>): EventField {
  return key === 'card+merchant' ? 'merchant_id' : key === 'card+terminal' ? 'terminal_id' : 'country'
}

function codesOf(tx: Transaction): number {
  const flags = (tx.country !== tx.card_country ? FLAG_ABROAD : 0) | (tx.channel === 'ecom' || tx.channel === 'moto' ? FLAG_CARD_NOT_PRESENT : 0)
  return flags | (Channel.indexOf(tx.channel) << CODED.channel.shift) | (letters(tx.country) << CODED.country.shift) | (digits(tx.mcc) << CODED.mcc.shift)
}

/** A validated alpha-2 country code as a base-26 number. */
function letters(code: string): number {
  let value = 0
  for (let i = 0; i < code.length; i++) value = value * 26 + (code.charCodeAt(i) - 65)
  return value
}

/** A validated 4-digit mcc as its number. */
function digits(code: string): number {
  let value = 0
  for (let i = 0; i < code.length; i++) value = value * 10 + (code.charCodeAt(i) - 48)
  return value
}
