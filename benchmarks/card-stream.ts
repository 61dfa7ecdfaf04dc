import type { Transaction } from '../src/core/transaction-v1.js'
import type { PartitionStateOptions } from '../src/offline/partition-state.js'
import { Random } from '../src/generator/random.js'

/** What the window benchmarks feed the card state: a seeded stream of card transactions, in event-time order. */
export interface CardStreamOptions {
  /** Distinct cards the events fall on, uniformly. */
  readonly cards: number
  /** Events per 14 days of event time: a shorter run is a prefix of the same stream, a longer one continues it. */
  readonly eventsPer14Days: number
  readonly seed: number
}

/** `count` events: a card, a time and an amount each. */
export function* cardEvents(
  count: number,
  options: CardStreamOptions,
  seed = options.seed,
): Generator<{ card: string; t: number; amount: number }> {
  const random = new Random(seed)
  // Ids as the generator makes them (card_ and 16 hex digits): their length is part of a card's bytes and hashing.
  const idRandom = new Random(seed + 3)
  const ids = Array.from({ length: options.cards }, () => `card_${idRandom.hex()}${idRandom.hex()}`)
  const stepMs = (14 * 86_400_000) / options.eventsPer14Days
  let t = Date.UTC(2026, 0, 1)
  for (let i = 0; i < count; i++) {
    t += random.exponential(stepMs)
    yield {
      card: ids[Math.floor(random.next() * options.cards)]!,
      t: Math.floor(t),
      amount: Math.round(random.logNormal(40, 0.8) * 100) / 100,
    }
  }
}

const COUNTRIES = ['FR', 'FR', 'FR', 'DE', 'US'] as const
// Merchant ids as the generator makes them: merchant_id is hashed per transaction.
const merchantRandom = new Random(50)
const MERCHANTS = Array.from({ length: 50 }, () => `mer_${merchantRandom.hex()}${merchantRandom.hex()}`)

/** Like the generator's customers: a card mostly pays at a handful of regular merchants (its 5), sometimes elsewhere. */
function merchantOf(card: string, random: Random): string {
  if (random.chance(0.2)) return random.pick(MERCHANTS)
  let h = 0
  for (let i = 0; i < card.length; i++) h = (h * 31 + card.charCodeAt(i)) >>> 0
  return MERCHANTS[(h + Math.floor(random.next() * 5)) % MERCHANTS.length]!
}

export function transactionOf(e: { card: string; t: number; amount: number }, i: number, random: Random): Transaction {
  return {
    transaction_id: `tx${i}`,
    card_id: e.card,
    customer_id: 'c',
    merchant_id: merchantOf(e.card, random),
    terminal_id: 't',
    amount: e.amount,
    currency: 'EUR',
    mcc: '5411',
    country: random.pick(COUNTRIES),
    card_country: 'FR',
    channel: random.chance(0.3) ? 'ecom' : 'pos',
    event_time: e.t,
    eventTimeMs: e.t,
  }
}

/** The partition state both window benchmarks measure: the job's settings, one minute of allowed lateness. */
export function windowStateOptions(features: PartitionStateOptions['features']): PartitionStateOptions {
  return {
    features,
    maxRecordBytes: 65_536,
    dedupeHorizonMs: 86_400_000,
    dedupeMaxEntries: 10_000_000,
    allowedLatenessMs: 60_000,
  }
}

export const CHUNK = 1_024

/**
 * The stream's first `count` transactions in chunks of fresh objects, as a poll's freshly decoded records are
 * (objects made long before and read once would add cache misses the job never has).
 */
export function* transactionChunks(count: number, options: CardStreamOptions): Generator<Transaction[]> {
  const random = new Random(options.seed + 7)
  let chunk: Transaction[] = []
  let i = 0
  for (const e of cardEvents(count, options)) {
    // Fresh card and merchant id strings per transaction, flat, as decoding makes them: the table compares the card's
    // characters, not its address (a concatenation of 13 or more characters would be a rope that the first read
    // flattens), and the merchant's are hashed; shared strings would stay in the cache, where decoded ones are not.
    const tx = transactionOf({ ...e, card: JSON.parse(JSON.stringify(e.card)) as string }, i++, random)
    tx.merchant_id = JSON.parse(JSON.stringify(tx.merchant_id)) as string
    chunk.push(tx)
    if (chunk.length === CHUNK) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}
