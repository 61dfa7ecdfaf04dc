import { pack } from 'msgpackr'
import type { LabelV1 } from '../core/records.js'
import type { TransactionV1 } from '../core/transaction-v1.js'
import { EventQueue } from './event-queue.js'
import { invalidRecord, type InvalidKind } from './invalid-records.js'
import { Random } from './random.js'
import { createWorld, currencyFor, type Customer, type Terminal, type World } from './world.js'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS

export const FraudPattern = ['compromised_card', 'compromised_terminal', 'card_testing'] as const
export type FraudPattern = (typeof FraudPattern)[number]

export { InvalidKind } from './invalid-records.js'

export type ValueFormat = 'json' | 'msgpack' | 'mixed'

export interface GeneratorOptions {
  readonly seed: number
  /** Share of valid, unique transactions that are fraud; the patterns below add up to this rate on average. */
  readonly fraudRate: number
  readonly invalidRate: number
  readonly duplicateRate: number
  readonly customers: number
  readonly merchants: number
  /** Event time of the first transaction; event time is simulated and runs ahead of the wall clock. */
  readonly startTimeMs: number
  readonly format: ValueFormat
}

export const defaultGeneratorOptions: GeneratorOptions = {
  seed: 42,
  fraudRate: 0.01,
  invalidRate: 0,
  duplicateRate: 0,
  customers: 5_000,
  merchants: 800,
  startTimeMs: Date.UTC(2026, 0, 5),
  format: 'json',
}

/** What the generator meant a record to be, for tests and summaries; never sent to Kafka. */
export type RecordIntent =
  | {
      readonly kind: 'valid'
      readonly transactionId: string
      readonly isFraud: boolean
      readonly pattern?: FraudPattern
    }
  | { readonly kind: 'duplicate'; readonly transactionId: string }
  | { readonly kind: 'invalid'; readonly invalid: InvalidKind }
  | { readonly kind: 'label'; readonly transactionId: string }

export interface GeneratedRecord {
  readonly topic: 'transactions' | 'labels'
  readonly key: string | null
  readonly value: Buffer
  readonly eventTimeMs: number
  readonly intent: RecordIntent
}

interface ScheduledFraud {
  readonly timeMs: number
  readonly seq: number
  readonly kind: 'fraud'
  readonly customer: Customer
  readonly terminal: Terminal
  readonly amount: number
  readonly country: string
  readonly channel: TransactionV1['channel']
  readonly pattern: FraudPattern
}
interface ScheduledLabel {
  readonly timeMs: number
  readonly seq: number
  readonly kind: 'label'
  readonly label: LabelV1
}
type Scheduled = ScheduledFraud | ScheduledLabel

/** Mean fraud transactions per episode of each pattern, from the ranges drawn in `#startEpisode`. */
const EPISODE_MIX: readonly (readonly [FraudPattern, number, number])[] = [
  ['compromised_card', 0.5, (3 + 12) / 2],
  ['compromised_terminal', 0.2, (5 + 15) / 2],
  ['card_testing', 0.3, (3 + 6) / 2 + 1.5],
]

/**
 * A seeded, deterministic stream of Transaction v1 records and the labels that follow them days later in event time.
 *
 * Legitimate spending: each customer has a home country, a spending level, a daily rate and usual hours, and
 * mostly uses a handful of local shops. Fraud comes in episodes, at the rate asked for on average:
 * - compromised card: a burst at ~10× the card's velocity, amounts ~5× its usual, ~70 % at night, ~60 % abroad;
 * - compromised terminal: a skimmer on one shop; cards used there over the next 1–3 days are charged larger amounts;
 * - card testing: small probes (some of 0) at online merchants minutes apart, then one or two large purchases.
 * Fraud is labelled (chargeback or customer) 1–30 days later; ~3 % of legitimate transactions get an analyst label.
 */
export class TransactionGenerator {
  readonly world: World
  readonly #random: Random
  readonly #options: GeneratorOptions
  readonly #queue = new EventQueue<Scheduled>()
  readonly #recent: GeneratedRecord[] = []
  #seq = 0
  #txCount = 0
  #nowMs: number
  #nextNormalMs: number
  readonly #meanGapMs: number
  readonly #episodeProbability: number

  constructor(options: Partial<GeneratorOptions> = {}) {
    this.#options = { ...defaultGeneratorOptions, ...options }
    this.#random = new Random(this.#options.seed)
    this.world = createWorld(this.#random, { customers: this.#options.customers, merchants: this.#options.merchants })
    const txPerDay = this.world.customers.reduce((sum, c) => sum + c.txPerDay, 0)
    this.#meanGapMs = DAY_MS / txPerDay
    const fraudPerEpisode = EPISODE_MIX.reduce((sum, [, share, mean]) => sum + share * mean, 0)
    const f = this.#options.fraudRate
    // An episode starts with probability p per legitimate transaction, so fraud share = p·E / (1 + p·E).
    this.#episodeProbability = f <= 0 ? 0 : f / (fraudPerEpisode * (1 - f))
    this.#nowMs = this.#options.startTimeMs
    this.#nextNormalMs = this.#nowMs + this.#random.exponential(this.#meanGapMs)
  }

  get eventTimeMs(): number {
    return this.#nowMs
  }

  /** The next record on either topic, in event-time order (injected duplicates repeat an earlier record). */
  next(): GeneratedRecord {
    const o = this.#options
    if (o.invalidRate > 0 && this.#random.chance(o.invalidRate)) return this.#invalid()
    if (o.duplicateRate > 0 && this.#recent.length > 0 && this.#random.chance(o.duplicateRate)) {
      const original = this.#random.pick(this.#recent)
      const intent = original.intent as Extract<RecordIntent, { kind: 'valid' }>
      return { ...original, intent: { kind: 'duplicate', transactionId: intent.transactionId } }
    }
    const head = this.#queue.peek()
    if (head && head.timeMs <= this.#nextNormalMs) {
      this.#queue.pop()
      this.#nowMs = Math.max(this.#nowMs, head.timeMs)
      if (head.kind === 'label') {
        return {
          topic: 'labels',
          key: head.label.transaction_id,
          value: Buffer.from(JSON.stringify(head.label)),
          eventTimeMs: head.timeMs,
          intent: { kind: 'label', transactionId: head.label.transaction_id },
        }
      }
      return this.#emit(
        head.customer,
        head.terminal,
        head.timeMs,
        head.amount,
        head.country,
        head.channel,
        head.pattern,
      )
    }
    this.#nowMs = this.#nextNormalMs
    this.#nextNormalMs += this.#random.exponential(this.#meanGapMs)
    if (this.#random.chance(this.#episodeProbability)) this.#startEpisode()
    return this.#normal()
  }

  /** Labels not yet due; a finite run flushes them so every fraud case has its label. */
  drainLabels(): GeneratedRecord[] {
    const out: GeneratedRecord[] = []
    while (this.#queue.length > 0) {
      const item = this.#queue.pop()
      if (item.kind === 'label') {
        out.push({
          topic: 'labels',
          key: item.label.transaction_id,
          value: Buffer.from(JSON.stringify(item.label)),
          eventTimeMs: item.timeMs,
          intent: { kind: 'label', transactionId: item.label.transaction_id },
        })
      }
    }
    return out
  }

  #normal(): GeneratedRecord {
    const r = this.#random
    let customer = r.pick(this.world.customers)
    // Rejection sampling on the customer's hour profile makes activity follow each person's usual hours.
    const hour = new Date(this.#nowMs).getUTCHours()
    for (let tries = 0; tries < 20; tries++) {
      const distance = Math.min(Math.abs(hour - customer.peakHour), 24 - Math.abs(hour - customer.peakHour))
      if (r.next() < Math.max(0.02, Math.exp(-(distance * distance) / (2 * customer.hourSpread * customer.hourSpread))))
        break
      customer = r.pick(this.world.customers)
    }
    const online = r.chance(customer.onlineShare) || customer.usualTerminals.length === 0
    const terminal =
      this.world.terminals[online ? r.pick(this.world.onlineTerminals) : r.pick(customer.usualTerminals)]!
    let country = terminal.country
    if (!online && r.chance(0.03))
      country = r.pick(['FR', 'ES', 'IT', 'DE', 'GB', 'PT', 'GR'].filter((c) => c !== customer.homeCountry))
    const amount =
      terminal.mcc === '6011' ? r.int(1, 10) * 20 : r.logNormal(terminal.medianAmount * customer.spendFactor, 0.6)
    return this.#emit(
      customer,
      terminal,
      this.#nowMs,
      amount,
      country,
      online ? 'ecom' : terminal.mcc === '6011' ? 'atm' : 'pos',
    )
  }

  #startEpisode(): void {
    const r = this.#random
    const pattern = r.weighted(EPISODE_MIX.map(([p, share]) => [p, share] as const))
    const seq = () => this.#seq++
    const schedule = (
      timeMs: number,
      customer: Customer,
      terminal: Terminal,
      amount: number,
      country: string,
      channel: TransactionV1['channel'],
    ) => this.#queue.push({ kind: 'fraud', seq: seq(), timeMs, customer, terminal, amount, country, channel, pattern })
    if (pattern === 'compromised_card') {
      const customer = r.pick(this.world.customers)
      const gapMs = DAY_MS / customer.txPerDay / 10
      let timeMs = this.#nowMs
      for (let i = 0, n = r.int(3, 12); i < n; i++) {
        timeMs += r.exponential(gapMs)
        if (r.chance(0.7)) timeMs = nextNight(timeMs, r)
        const abroad = r.chance(0.6)
        const online = r.chance(0.6)
        const terminal =
          this.world.terminals[
            online
              ? r.pick(this.world.onlineTerminals)
              : r.pick(customer.usualTerminals.length ? customer.usualTerminals : this.world.onlineTerminals)
          ]!
        const amount = r.logNormal(terminal.medianAmount * customer.spendFactor * 5, 0.5)
        schedule(
          timeMs,
          customer,
          terminal,
          amount,
          abroad ? r.pick(this.world.foreignCountries) : terminal.country,
          online ? 'ecom' : 'pos',
        )
      }
    } else if (pattern === 'compromised_terminal') {
      const local = this.world.terminals.filter((t) => !t.online)
      const terminal = r.pick(local.length ? local : this.world.terminals)
      const spanMs = r.uniform(1, 3) * DAY_MS
      for (let i = 0, n = r.int(5, 15); i < n; i++) {
        const customer = r.pick(this.world.customers)
        const amount = r.logNormal(terminal.medianAmount * customer.spendFactor * 2.5, 0.5)
        schedule(this.#nowMs + r.uniform(0, spanMs), customer, terminal, amount, terminal.country, 'pos')
      }
    } else {
      const customer = r.pick(this.world.customers)
      let timeMs = this.#nowMs
      for (let i = 0, n = r.int(3, 6); i < n; i++) {
        timeMs += r.uniform(0.5, 5) * MINUTE_MS
        const probe = r.chance(0.3) ? 0 : Math.round(r.uniform(0.5, 2) * 100) / 100
        schedule(
          timeMs,
          customer,
          this.world.terminals[r.pick(this.world.onlineTerminals)]!,
          probe,
          r.pick(this.world.foreignCountries),
          'ecom',
        )
      }
      for (let i = 0, n = r.int(1, 2); i < n; i++) {
        timeMs += r.uniform(5, 60) * MINUTE_MS
        const terminal = this.world.terminals[r.pick(this.world.onlineTerminals)]!
        schedule(
          timeMs,
          customer,
          terminal,
          r.logNormal(Math.max(200, terminal.medianAmount * 8), 0.4),
          terminal.country,
          'ecom',
        )
      }
    }
  }

  #emit(
    customer: Customer,
    terminal: Terminal,
    timeMs: number,
    rawAmount: number,
    country: string,
    channel: TransactionV1['channel'],
    pattern?: FraudPattern,
  ): GeneratedRecord {
    const r = this.#random
    const transactionId = `tx_${this.#options.seed.toString(36)}_${(this.#txCount++).toString(36).padStart(8, '0')}`
    const cardNotPresent = channel === 'ecom' || channel === 'moto'
    const tx: TransactionV1 = {
      transaction_id: transactionId,
      card_id: customer.cardId,
      customer_id: customer.customerId,
      merchant_id: terminal.merchantId,
      terminal_id: terminal.terminalId,
      amount: Math.round(rawAmount * 100) / 100,
      currency: currencyFor(cardNotPresent ? customer.homeCountry : country),
      mcc: terminal.mcc,
      country,
      card_country: customer.homeCountry,
      channel,
      entry_mode: cardNotPresent
        ? r.chance(0.3)
          ? 'token'
          : 'manual'
        : r.weighted([
            ['chip', 5],
            ['contactless', 6],
            ['swipe', 1],
          ] as const),
      ...(cardNotPresent
        ? {
            device_id: pattern ? `dev_${r.hex()}` : customer.deviceId,
            ip: pattern ? `203.0.${r.int(0, 255)}.${r.int(1, 254)}` : customer.ip,
          }
        : {}),
      event_time: new Date(timeMs).toISOString(),
    }
    const isFraud = pattern !== undefined
    this.#scheduleLabel(tx, timeMs, isFraud)
    const record: GeneratedRecord = {
      topic: 'transactions',
      key: customer.cardId,
      value: this.#encode(tx),
      eventTimeMs: timeMs,
      intent: pattern ? { kind: 'valid', transactionId, isFraud, pattern } : { kind: 'valid', transactionId, isFraud },
    }
    this.#recent.push(record)
    if (this.#recent.length > 50) this.#recent.shift()
    return record
  }

  #scheduleLabel(tx: TransactionV1, timeMs: number, isFraud: boolean): void {
    const r = this.#random
    if (!isFraud && !r.chance(0.03)) return
    const delayMs = isFraud ? Math.min(30, r.logNormal(5, 0.6)) * DAY_MS : r.uniform(1, 3) * DAY_MS
    const source = isFraud ? (r.chance(0.8) ? 'chargeback' : 'customer') : 'analyst'
    const reportedMs = timeMs + delayMs
    this.#queue.push({
      kind: 'label',
      seq: this.#seq++,
      timeMs: reportedMs,
      label: {
        transaction_id: tx.transaction_id,
        card_id: tx.card_id,
        is_fraud: isFraud,
        source,
        reported_at: new Date(reportedMs).toISOString(),
        transaction_time: tx.event_time,
        terminal_id: tx.terminal_id,
        merchant_id: tx.merchant_id,
        customer_id: tx.customer_id,
        ...(tx.device_id ? { device_id: tx.device_id } : {}),
      },
    })
  }

  #encode(value: object): Buffer {
    const format =
      this.#options.format === 'mixed' ? (this.#random.chance(0.5) ? 'json' : 'msgpack') : this.#options.format
    return format === 'msgpack' ? pack(value) : Buffer.from(JSON.stringify(value))
  }

  #invalid(): GeneratedRecord {
    const { kind, customer, value } = invalidRecord(this.#random, this.world.customers, this.#nowMs)
    return {
      topic: 'transactions',
      key: customer.cardId,
      value,
      eventTimeMs: this.#nowMs,
      intent: { kind: 'invalid', invalid: kind },
    }
  }
}

/** The first instant ≥ timeMs inside 22:00–05:59 UTC, plus a random offset into that night. */
function nextNight(timeMs: number, random: Random): number {
  const hour = new Date(timeMs).getUTCHours()
  if (hour >= 22 || hour < 6) return timeMs
  const startOfNight = Math.floor(timeMs / DAY_MS) * DAY_MS + 22 * HOUR_MS
  return startOfNight + random.uniform(0, 7.9) * HOUR_MS
}
