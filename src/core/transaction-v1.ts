import { z } from 'zod'

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

export function eventTimeMsOf(eventTime: string | number): number {
  return typeof eventTime === 'number' ? eventTime : Date.parse(eventTime)
}
