import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import { Channel, type Transaction } from '../../core/transaction-v1.js'
import type { DistinctField } from '../features/feature-definition.js'
import { hash52, type WindowGroup } from './window-groups.js'

/** Fields a window key or a distinct_count compares. */
export type EventField = DistinctField

/**
 * Fields with few possible values, kept exactly as small codes (no hash, no collision) in one codes word: the
 * abroad and card-not-present flags in bits 0–1, then each coded field a window reads, in this order and width
 * (channel 2 bits, country 10: 26² alpha-2 codes, mcc 14: 4 digits), at most 28 bits. `&` and `>>>` read it exactly
 * from its column, also below a hash (they take a double's low 32 bits, on the CPU's integer path below 2^63).
 * Currency, rarely compared, gets a hashed column when a window needs it.
 */
type CodedField = 'country' | 'mcc' | 'channel'
const CODE_WIDTHS: readonly (readonly [CodedField, number])[] = [
  ['channel', 2],
  ['country', 10],
  ['mcc', 14],
]
const FLAG_BITS = 2
export const FLAG_ABROAD = 1
export const FLAG_CARD_NOT_PRESENT = 2
/**
 * A codes word of at most this many bits shares the column of a hashed field instead of a column of its own: the
 * field keeps a hash of 53 − bits (≥ 40) bits above it, exact in a double. One column less per event is a smaller
 * card log, and fewer cache lines per update. The default features' codes (flags and
 * country, 12 bits) leave merchant_id a 41-bit hash.
 */
const MAX_SHARED_CODE_BITS = 13
/** Hashed fields every valid transaction has: an absent optional field (NaN) could not carry the codes. */
const REQUIRED_FIELDS: ReadonlySet<EventField> = new Set<EventField>(['merchant_id', 'terminal_id', 'currency'])

function isCoded(field: EventField): field is CodedField {
  return field === 'country' || field === 'mcc' || field === 'channel'
}

/** Where a field lives in an event: a column holding its hash, or bits of the codes word. */
export interface FieldReader {
  /** Offset within an event (the time is at 0, the amount at 1). */
  readonly offset: number
  /** -1 for a hashed field; otherwise the code's first bit in the codes word. */
  readonly shift: number
  readonly mask: number
  /** For a hashed field whose column also holds the codes word: the word's bits, below the hash (0 otherwise). */
  readonly codeBits: number
}

/**
 * What the card log keeps per event besides its time: the amount, a hash per other field a window key or
 * distinct_count compares (merchant, terminal, device, ip, currency; NaN when an optional field is absent), and,
 * when a group needs country, mcc, channel or the abroad / card-not-present flags, the codes word: in the column of
 * a required hashed field when it is small enough (see MAX_SHARED_CODE_BITS), else in a column of its own.
 * card+merchant windows are the card's events whose merchant hash equals the current one's.
 */
export interface EventLayout {
  readonly hashedFields: readonly EventField[]
  /** Offset of the column holding the codes word within an event, -1 without one. */
  readonly codesOffset: number
  /** Numbers per event after the time. */
  readonly valuesPerEvent: number
  /** Describes the columns: card logs (and snapshots of them) of another signature cannot be read with this layout. */
  readonly signature: string
  reader(field: EventField): FieldReader
  /** The event's values: [amount, field hashes…, codes?]. */
  fill(tx: Transaction, out: Float64Array): Float64Array
}

export function eventLayoutOf(groups: readonly WindowGroup[]): EventLayout {
  const hashed = new Set<EventField>()
  const coded = new Set<CodedField>()
  let hasCodes = false
  for (const group of groups) {
    for (const field of fieldsOf(group)) {
      if (isCoded(field)) coded.add(field)
      else hashed.add(field)
    }
    if (coded.size > 0 || group.filter === 'abroad' || group.filter === 'card_not_present') hasCodes = true
  }
  const hashedFields = [...hashed]
  const codeReaders = new Map<CodedField, { shift: number; mask: number }>()
  let codeBits = hasCodes ? FLAG_BITS : 0
  for (const [field, width] of CODE_WIDTHS) {
    if (!coded.has(field)) continue
    codeReaders.set(field, { shift: codeBits, mask: 2 ** width - 1 })
    codeBits += width
  }
  const carrier =
    hasCodes && codeBits <= MAX_SHARED_CODE_BITS ? hashedFields.findIndex((field) => REQUIRED_FIELDS.has(field)) : -1
  const codesOffset = !hasCodes ? -1 : carrier >= 0 ? 2 + carrier : 2 + hashedFields.length
  const codesOf = codesFunction(codeReaders)
  const codesName = `codes(${['flags', ...codeReaders.keys()].join('+')})`
  const hashScale = 2 ** codeBits
  const hashDivisor = 2 ** (codeBits - 1)
  return {
    hashedFields,
    codesOffset,
    valuesPerEvent: 1 + hashedFields.length + (hasCodes && carrier < 0 ? 1 : 0),
    signature: [
      ...hashedFields.map((field, i) => (i === carrier ? `${field}/${53 - codeBits}+${codesName}` : field)),
      ...(hasCodes && carrier < 0 ? [codesName] : []),
    ].join(','),
    reader: (field) => {
      if (isCoded(field)) {
        const code = codeReaders.get(field)
        if (!code) throw new FraudstreamError(ErrorCode.internal, `event layout: no window reads ${field}`, 'internal')
        return { offset: codesOffset, ...code, codeBits: 0 }
      }
      const i = hashedFields.indexOf(field)
      return { offset: 2 + i, shift: -1, mask: 0, codeBits: i === carrier ? codeBits : 0 }
    },
    fill: (tx, out) => {
      out[0] = tx.amount
      for (let i = 0; i < hashedFields.length; i++) {
        const value = tx[hashedFields[i]!]
        // The carrier's hash keeps its top 53 − codeBits bits; the codes word fills the bits below.
        if (i === carrier) out[1 + i] = Math.floor(hash52(value!) / hashDivisor) * hashScale + codesOf(tx)
        else out[1 + i] = value === undefined ? NaN : hash52(value)
      }
      if (hasCodes && carrier < 0) out[codesOffset - 1] = codesOf(tx)
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

/** The codes word of a transaction: the flags, then each field of `readers` at its bits. */
function codesFunction(readers: ReadonlyMap<CodedField, { readonly shift: number }>): (tx: Transaction) => number {
  const channel = readers.get('channel')?.shift ?? -1
  const country = readers.get('country')?.shift ?? -1
  const mcc = readers.get('mcc')?.shift ?? -1
  return (tx) => {
    let codes =
      (tx.country !== tx.card_country ? FLAG_ABROAD : 0) |
      (tx.channel === 'ecom' || tx.channel === 'moto' ? FLAG_CARD_NOT_PRESENT : 0)
    if (channel >= 0) codes |= Channel.indexOf(tx.channel) << channel
    if (country >= 0) codes |= letters(tx.country) << country
    if (mcc >= 0) codes |= digits(tx.mcc) << mcc
    return codes
  }
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
