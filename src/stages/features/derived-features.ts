import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { utcHour } from '../windows/window-groups.js'
import { CategoricalField, DerivedField, type DerivedFeature } from './feature-definition.js'

const DAY_MS = 86_400_000
/** 1970-01-01 was a Thursday: day index 0 = Thursday, so Saturday and Sunday are 2 and 3. */
const SATURDAY = 2
const SUNDAY = 3

/** Each built-in derived field's one implementation. */
export const DERIVE: Record<DerivedField, (tx: Transaction) => number> = {
  amount: (tx) => tx.amount,
  log1p_amount: (tx) => Math.log1p(tx.amount),
  is_night: (tx) => {
    const hour = utcHour(tx.eventTimeMs)
    return hour >= 22 || hour < 6 ? 1 : 0
  },
  is_abroad: (tx) => (tx.country !== tx.card_country ? 1 : 0),
  is_card_not_present: (tx) => (tx.channel === 'ecom' || tx.channel === 'moto' ? 1 : 0),
  is_zero_amount: (tx) => (tx.amount === 0 ? 1 : 0),
  hour_of_day: (tx) => utcHour(tx.eventTimeMs),
  is_weekend: (tx) => {
    const day = ((Math.floor(tx.eventTimeMs / DAY_MS) % 7) + 7) % 7
    return day === SATURDAY || day === SUNDAY ? 1 : 0
  },
}

/**
 * A derived feature's value of a transaction, its parameters bound. hour_in's window, from → to:
 *
 * | from | to | hours that give 1 |
 * | ---- | -- | ----------------- |
 * | 0    | 6  | 00:00–05:59       |
 * | 22   | 6  | 22:00–05:59       |
 * | 9    | 24 | 09:00–23:59       |
 */
export function deriveOf(d: DerivedFeature): (tx: Transaction) => number {
  validateDerived(d)
  switch (d.field) {
    case 'hour_in': {
      const { from, to } = d
      return from < to
        ? (tx) => {
            const hour = utcHour(tx.eventTimeMs)
            return hour >= from && hour < to ? 1 : 0
          }
        : (tx) => {
            const hour = utcHour(tx.eventTimeMs)
            return hour >= from || hour < to ? 1 : 0
          }
    }
    case 'amount_at_least': {
      const { value } = d
      return (tx) => (tx.amount >= value ? 1 : 0)
    }
    case 'value_in': {
      const values = new Set(d.values)
      const of = d.of
      return (tx) => (values.has(tx[of] ?? '') ? 1 : 0)
    }
    default:
      return DERIVE[d.field]
  }
}

/** A derived feature's field must be known and its parameters in range: a typo fails at start, with its name. */
export function validateDerived(d: DerivedFeature): void {
  const refuse = (why: string): never => {
    throw new FraudstreamError(ErrorCode.configInvalid, `derived feature ${d.name}: ${why}`, 'input')
  }
  switch (d.field) {
    case 'hour_in':
      if (!Number.isInteger(d.from) || d.from < 0 || d.from > 23) refuse(`from ${d.from} must be a whole hour 0–23`)
      if (!Number.isInteger(d.to) || d.to < 0 || d.to > 24) refuse(`to ${d.to} must be a whole hour 0–24`)
      if (d.from === d.to || (d.from === 0 && d.to === 24)) refuse(`from ${d.from} to ${d.to} is every hour or none`)
      return
    case 'amount_at_least':
      if (!Number.isFinite(d.value)) refuse(`value ${d.value} must be a number`)
      return
    case 'value_in':
      if (!(CategoricalField as readonly string[]).includes(d.of))
        refuse(`of "${d.of}" must be one of ${CategoricalField.join(', ')}`)
      if (!Array.isArray(d.values) || d.values.length === 0 || !d.values.every((v) => typeof v === 'string'))
        refuse('values must be a non-empty list of codes')
      return
    default:
      if (!(DerivedField as readonly string[]).includes(d.field))
        refuse(
          `field "${String(d.field)}" is not one of ${[...DerivedField, 'hour_in', 'amount_at_least', 'value_in'].join(', ')}`,
        )
  }
}
