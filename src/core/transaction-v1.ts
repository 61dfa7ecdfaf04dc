import { z } from 'zod'
import { isoTimeMs } from './iso-time.js'

export const Channel = ['pos', 'ecom', 'atm', 'moto'] as const
export const EntryMode = ['chip', 'swipe', 'contactless', 'manual', 'token'] as const

const currencies = new Set(Intl.supportedValuesOf('currency'))
const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' })
const regionCache = new Map<string, boolean>()
function isIsoCountry(code: string): boolean {
  let known = regionCache.get(code)
  if (known === undefined) {
    // ICU names every ISO 3166-1 alpha-2 region; 'ZZ' is its "Unknown Region" placeholder.
    known = /^[A-Z]{2}$/.test(code) && code !== 'ZZ' && regionNames.of(code) !== undefined
    if (regionCache.size < 1024) regionCache.set(code, known)
  }
  return known
}

/** Luhn check over a digit string. */
export function isLuhnValid(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

/** A card_id must be a token or hash; 13–19 digits (spaces and dashes ignored) that pass Luhn look like a PAN. */
export function looksLikePan(value: string): boolean {
  // Any other ASCII character than a digit, a dash or ASCII whitespace stays in the digits below, so they could not
  // all be digits: ids (tokens, hashes) mostly end the check at their first character.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 128 && !(c >= 48 && c <= 57) && c !== 45 && c !== 32 && !(c >= 9 && c <= 13)) return false
  }
  const digits = value.replace(/[\s-]/g, '')
  return /^\d{13,19}$/.test(digits) && isLuhnValid(digits)
}

const id = z.string().min(1).max(64)
export const PAN_ISSUE_MESSAGE = 'card_id looks like a card number (PAN); send a token or keyed hash instead'

/** Transaction v1, the contract of the `transactions` topic (DESIGN.md §3). Unknown fields are stripped. */
export const TransactionV1Schema = z.object({
  transaction_id: id,
  card_id: id.refine((v) => !looksLikePan(v), { message: PAN_ISSUE_MESSAGE, params: { fraudstream: 'pan' } }),
  customer_id: id,
  merchant_id: id,
  terminal_id: id,
  amount: z.number().min(0).max(1e9),
  currency: z.string().refine((v) => currencies.has(v), { message: 'currency must be an ISO 4217 code' }),
  mcc: z.string().regex(/^\d{4}$/, 'mcc must be 4 digits'),
  country: z.string().refine(isIsoCountry, { message: 'country must be an ISO 3166-1 alpha-2 code' }),
  card_country: z.string().refine(isIsoCountry, { message: 'card_country must be an ISO 3166-1 alpha-2 code' }),
  channel: z.enum(Channel),
  entry_mode: z.enum(EntryMode).optional(),
  device_id: z.string().min(1).max(128).optional(),
  ip: z.string().min(1).max(64).optional(),
  event_time: z.union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(8.64e15)]),
})
export type TransactionV1 = z.infer<typeof TransactionV1Schema>

/** A validated transaction with its event time resolved to epoch milliseconds. */
export interface Transaction extends TransactionV1 {
  readonly eventTimeMs: number
}

/** A checked time field (isTimeValue) in epoch milliseconds. */
export function eventTimeMsOf(eventTime: string | number): number {
  return typeof eventTime === 'number' ? eventTime : isoTimeMs(eventTime)
}

const ISO_DATETIME = z.iso.datetime({ offset: true })._zod.pattern!
const MCC = /^\d{4}$/
const CHANNELS: ReadonlySet<unknown> = new Set(Channel)
const ENTRY_MODES: ReadonlySet<unknown> = new Set(EntryMode)
const TRANSACTION_KEYS = Object.keys(TransactionV1Schema.shape) as (keyof TransactionV1)[]

/** Whether `value` passes the schemas' id fields: a string of 1 to `max` characters. */
export function isId(value: unknown, max = 64): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max
}

/**
 * TransactionV1Schema's result for a record that passes every check of the schema as written, without going through
 * zod (a parse through it costs many times the JSON.parse before it, and decode runs for every record); undefined for
 * anything else, valid or not, which the schema then decides (and describes). Whatever this returns, the schema
 * returns too: the same checks, the same patterns, and the schema's keys in its order with unknown ones stripped.
 */
export function knownValidTransaction(value: Readonly<Record<string, unknown>>): TransactionV1 | undefined {
  const { card_id, amount, currency, mcc, country, card_country, channel, entry_mode, device_id, ip, event_time } =
    value
  if (!isId(value['transaction_id']) || !isId(card_id) || looksLikePan(card_id)) return undefined
  if (!isId(value['customer_id']) || !isId(value['merchant_id']) || !isId(value['terminal_id'])) return undefined
  if (typeof amount !== 'number' || !(amount >= 0 && amount <= 1e9)) return undefined
  if (typeof currency !== 'string' || !currencies.has(currency)) return undefined
  if (typeof mcc !== 'string' || !MCC.test(mcc)) return undefined
  if (typeof country !== 'string' || !isIsoCountry(country)) return undefined
  if (typeof card_country !== 'string' || !isIsoCountry(card_country)) return undefined
  if (!CHANNELS.has(channel)) return undefined
  if (entry_mode !== undefined && !ENTRY_MODES.has(entry_mode)) return undefined
  if (device_id !== undefined && !isId(device_id, 128)) return undefined
  if (ip !== undefined && !isId(ip)) return undefined
  if (!isTimeValue(event_time)) return undefined
  // The usual record, written as one literal: its object gets its shape at once, where the loop below adds a key at a
  // time, and copies of it (a decoded Transaction) are as quick to make.
  if (device_id === undefined && ip === undefined && entry_mode !== undefined) {
    const { transaction_id, customer_id, merchant_id, terminal_id } = value as Record<string, string>
    return {
      transaction_id: transaction_id!,
      card_id,
      customer_id: customer_id!,
      merchant_id: merchant_id!,
      terminal_id: terminal_id!,
      amount,
      currency,
      mcc,
      country,
      card_country,
      channel: channel as TransactionV1['channel'],
      entry_mode: entry_mode as TransactionV1['entry_mode'],
      event_time: event_time as string | number,
    }
  }
  const result: Record<string, unknown> = {}
  for (const key of TRANSACTION_KEYS) if (value[key] !== undefined) result[key] = value[key]
  return result as TransactionV1
}

/** Whether `value` passes the schemas' time fields (an ISO 8601 date-time with an offset, or epoch milliseconds). */
export function isTimeValue(value: unknown): boolean {
  return typeof value === 'string' ? ISO_DATETIME.test(value) : isEpochMs(value)
}

function isEpochMs(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 8.64e15
}
