/**
 * Questions: (1) how many window updates per second per core does the card-window state sustain with the default
 * feature set (one update = compute the transaction's window features, then add it), against a naive per-card
 * event array scanned for every feature in the same run? (2) how many heap bytes does an active card cost with
 * 1,000,000 cards and 10,000,000 events?
 *
 *   npm run bench:windows -- [--events 2000000] [--cards 100000] [--memory-cards 1000000] [--memory-events 10000000] [--json]
 * Run with --expose-gc for the memory figure (the npm script does).
 */
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { Random } from '../src/generator/random.js'
import type { Transaction } from '../src/core/transaction-v1.js'
import { longestSpanMs } from '../src/stages/features/feature-definition.js'
import { toFeatureRow } from '../src/stages/features/to-feature-row.js'
import { CardWindows } from '../src/stages/windows/card-windows.js'
import { cardFraudFeatures } from '../topology/features.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    cards: { type: 'string', default: '100000' },
    'memory-cards': { type: 'string', default: '1000000' },
    'memory-events': { type: 'string', default: '10000000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
})
const events = Number(values.events)
const cards = Number(values.cards)
const seed = Number(values.seed)
const features = cardFraudFeatures
const maxSpanMs = longestSpanMs(features)
const windowSpans = features.flatMap((f) => (f.kind === 'window' ? [f.spanMs] : []))

/** A seeded stream: `count` events over `cardCount` cards, ~14 days of event time, in order. */
function* stream(count: number, cardCount: number, streamSeed: number): Generator<{ card: string; t: number; amount: number }> {
  const random = new Random(streamSeed)
  const ids = Array.from({ length: cardCount }, (_, i) => `card_${i.toString(36)}`)
  const stepMs = (14 * 86_400_000) / count
  let t = Date.UTC(2026, 0, 1)
  for (let i = 0; i < count; i++) {
    t += random.exponential(stepMs)
    yield { card: ids[Math.floor(random.next() * cardCount)]!, t: Math.floor(t), amount: Math.round(random.logNormal(40, 0.8) * 100) / 100 }
  }
}

const template = { transaction_id: 'x', customer_id: 'c', merchant_id: 'm', terminal_id: 't', currency: 'EUR', mcc: '5411', country: 'FR', card_country: 'FR', channel: 'pos', event_time: 0 } as const

function windowsRate(input: { card: string; t: number; amount: number }[]): number {
  const windows = new CardWindows({ maxSpanMs, allowedLatenessMs: 60_000 })
  const row = toFeatureRow(features)
  const tx = { ...template } as unknown as { -readonly [K in keyof Transaction]: Transaction[K] }
  const started = performance.now()
  for (const e of input) {
    tx.card_id = e.card
    tx.eventTimeMs = e.t
    tx.amount = e.amount
    row(tx, windows)
    windows.add(e.card, e.t, e.amount)
  }
  return input.length / ((performance.now() - started) / 1000)
}

/** The baseline: every card's events in an array, scanned in full for every window feature. */
function naiveRate(input: { card: string; t: number; amount: number }[]): number {
  const history = new Map<string, { t: number; amount: number }[]>()
  let sink = 0
  const started = performance.now()
  for (const e of input) {
    let list = history.get(e.card)
    if (!list) history.set(e.card, (list = []))
    for (const span of windowSpans) {
      let count = 1
      let sum = e.amount
      for (const old of list) {
        if (old.t > e.t - span && old.t <= e.t) {
          count++
          sum += old.amount
        }
      }
      sink += count + sum
    }
    list.push(e)
    if (list.length > 0 && list[0]!.t <= e.t - maxSpanMs) list.shift()
  }
  if (sink === -1) process.stdout.write('')
  return input.length / ((performance.now() - started) / 1000)
}

function memoryPerCard(cardCount: number, eventCount: number): { bytesPerCard: number; heapMiB: number } | undefined {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return undefined
  gc()
  const before = process.memoryUsage().heapUsed
  const windows = new CardWindows({ maxSpanMs, allowedLatenessMs: 60_000 })
  for (const e of stream(eventCount, cardCount, seed + 1)) windows.add(e.card, e.t, e.amount)
  gc()
  const used = process.memoryUsage().heapUsed - before
  if (windows.cardCount === 0) throw new Error('no cards')
  return { bytesPerCard: used / windows.cardCount, heapMiB: used / 2 ** 20 }
}

const input = [...stream(events, cards, seed)]
windowsRate(input.slice(0, 200_000))
naiveRate(input.slice(0, 50_000))
const windows = windowsRate(input)
const naive = naiveRate(input)
const memory = memoryPerCard(Number(values['memory-cards']), Number(values['memory-events']))
const environment = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', events, cards, seed, features: features.length, windowFeatures: windowSpans.length }
const result = { environment, updatesPerSecond: { windows, naive }, ratio: windows / naive, memory }
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`)
else {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
  process.stdout.write(
    [
      `window-updates  node ${environment.node}, ${environment.cpus} cpus (${environment.cpu}), ${fmt(events)} events over ${fmt(cards)} cards, seed ${seed}, ${features.length} features (${windowSpans.length} windowed)`,
      `  window.update  card-windows/naive-scan = ${(windows / naive).toFixed(1)}x  (${fmt(windows)} vs ${fmt(naive)} updates/s on one core)`,
      memory
        ? `  memory         ${memory.bytesPerCard.toFixed(0)} bytes per active card (${fmt(Number(values['memory-cards']))} cards, ${fmt(Number(values['memory-events']))} events, ${memory.heapMiB.toFixed(0)} MiB heap)`
        : '  memory         skipped: run with node --expose-gc',
    ].join('\n') + '\n',
  )
}
