import { cpus } from 'node:os'
import { Random } from '../src/generator/random.js'
import type { Transaction } from '../src/core/transaction-v1.js'
import { cardEvents, transactionChunks, transactionOf, windowStateOptions } from './card-stream.js'
import { doubleMoments, referenceFeatureRow } from '../src/stages/features/reference-features.js'
import { PartitionState } from '../src/offline/partition-state.js'
import { WARM_MAX } from '../src/stages/windows/card-windows.js'
import { logHorizonsOf, windowGroupsOf } from '../src/stages/windows/window-groups.js'
import { cardFraudFeatures } from '../topology/features.js'
import { benchmarkArgs } from './args.js'

const USAGE = `Questions: (1) how many window updates per second per core does the card-window state sustain with the default
feature set (one update = compute the transaction's window features, then add it), from empty and in the steady
state of a job running longer than its longest window, against a naive per-card event array scanned for every
feature in the same run? (2) how many heap bytes does an active card cost in all the window stores of the default
feature set, with 1,000,000 cards and 10,000,000 events? With the rates: the minor page faults of each timed run and
what one costs on this machine, since from empty the state grows into new memory (some virtual machines take 10 µs
and more a fault).

  npm run bench:windows -- [--events 2000000] [--cards 100000] [--runs 3] [--memory-cards 1000000] [--memory-events 10000000] [--seed 1] [--json]

--events is the events of 14 days (the steady state runs 28 days of them); --runs is how often each of the two is
timed, each time with a new state: the median is printed with the range (a shared machine slows some runs by a
quarter and more), and the page faults of the median run (runs after the first mostly reuse memory the states before
them freed); --memory-cards 0 skips the memory figure, which needs node --expose-gc (the npm script sets it).`

const values = benchmarkArgs(USAGE, {
  events: { type: 'string', default: '2000000' },
  cards: { type: 'string', default: '100000' },
  runs: { type: 'string', default: '3' },
  'memory-cards': { type: 'string', default: '1000000' },
  'memory-events': { type: 'string', default: '10000000' },
})
const events = Number(values.events)
const cards = Number(values.cards)
const runs = Number(values.runs)
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a whole number of at least 1, got ${values.runs}`)
const seed = Number(values.seed)
const features = cardFraudFeatures
const maxSpanMs = logHorizonsOf(windowGroupsOf(features)).horizonMs
const windowFeatures = features.filter((f) => f.kind === 'window').length

const streamOptions = { cards, eventsPer14Days: events, seed }
const options = windowStateOptions(features)

/** A timed run: updates per second, and the minor page faults its timed chunks took per thousand updates. */
interface Rate {
  readonly updatesPerSecond: number
  readonly faultsPer1000: number
}

/** `runs` runs of one measurement: the median run (by updates/s) and every run's rate, in the order taken. */
function repeated(measure: () => Rate): Rate & { readonly runs: readonly number[] } {
  const taken = Array.from({ length: runs }, measure)
  const sorted = [...taken].sort((a, b) => a.updatesPerSecond - b.updatesPerSecond)
  return { ...sorted[(sorted.length - 1) >> 1]!, runs: taken.map((r) => r.updatesPerSecond) }
}

/** `update` over the first `count` transactions, timing only the chunks after the first `untimed` transactions. */
function timedRate(count: number, update: (chunk: readonly Transaction[]) => void, untimed = 0): Rate {
  let elapsedMs = 0
  let faults = 0
  let done = 0
  for (const chunk of transactionChunks(count, streamOptions)) {
    const timed = done >= untimed
    const faultsBefore = process.resourceUsage().minorPageFault
    const started = performance.now()
    update(chunk)
    if (timed) {
      elapsedMs += performance.now() - started
      faults += process.resourceUsage().minorPageFault - faultsBefore
    }
    done += chunk.length
  }
  return {
    updatesPerSecond: (count - untimed) / (elapsedMs / 1000),
    faultsPer1000: (1000 * faults) / (count - untimed),
  }
}

/**
 * What a minor page fault (the first touch of a 4 KiB page of fresh memory) costs here, in microseconds: state that
 * grows pays one per 4 KiB of new pages. Commonly well under a microsecond on bare metal; some virtual machines take
 * 10 µs and more, which then weighs on every figure taken from empty. Taken before any state exists: 16 MiB allocated
 * later can be memory freed by earlier states, mapped already, and the time per fault would divide by next to none
 * (NaN when fewer than a quarter of its pages faulted).
 */
function pageFaultMicros(): number {
  const faultsBefore = process.resourceUsage().minorPageFault
  const started = performance.now()
  const fresh = new Float64Array(16 * 2 ** 17)
  for (let i = 0; i < fresh.length; i += 512) fresh[i] = 1
  const elapsedMs = performance.now() - started
  const faults = process.resourceUsage().minorPageFault - faultsBefore
  return faults >= fresh.length / 512 / 4 ? (1000 * elapsedMs) / faults : NaN
}

/**
 * One update = the transaction's feature row from the card log, then the transaction into the log. As the job does
 * with a poll's records: the cards of each WARM_MAX transactions are warmed, then the transactions processed, their
 * rows written side by side into a new array per chunk.
 */
function windowsRate(count: number, untimed = 0): Rate {
  const state = new PartitionState(options)
  const width = features.length
  return timedRate(
    count,
    (chunk) => {
      const rows = new Float32Array(chunk.length * width)
      for (let i = 0; i < chunk.length; i += WARM_MAX) {
        const stretch = chunk.slice(i, i + WARM_MAX)
        state.warm(stretch)
        for (let j = 0; j < stretch.length; j++) state.observe(stretch[j]!, rows, (i + j) * width)
      }
    },
    untimed,
  )
}

/**
 * The baseline, a naive implementation: each card's transactions in an array, every window feature recomputed by a
 * scan of it per feature, in doubles (the tests' oracle, with doubleMoments instead of exact arithmetic).
 */
function naiveRate(count: number): number {
  const history = new Map<string, Transaction[]>()
  let sink = 0
  const { updatesPerSecond } = timedRate(count, (chunk) => {
    for (const tx of chunk) {
      let list = history.get(tx.card_id)
      if (!list) history.set(tx.card_id, (list = []))
      sink += referenceFeatureRow(features, list, tx, -Infinity, doubleMoments)[0]!
      list.push(tx)
      while (list.length > 0 && list[0]!.eventTimeMs <= tx.eventTimeMs - maxSpanMs) list.shift()
    }
  })
  if (sink === -1) process.stdout.write('')
  return updatesPerSecond
}

/** Heap and ArrayBuffer bytes of every window store of the default feature set (all keys, filters and distinct stores), per card. */
function memoryPerCard(cardCount: number, eventCount: number): { bytesPerCard: number; heapMiB: number } | undefined {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return undefined
  const random = new Random(seed + 9)
  // The card logs live in ArrayBuffer pages outside the JS heap: both count.
  const bytesInUse = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
  gc()
  const before = bytesInUse()
  const state = new PartitionState(options)
  let i = 0
  // Transactions are made one at a time and dropped: only the window state stays on the heap.
  for (const e of cardEvents(eventCount, { cards: cardCount, eventsPer14Days: eventCount, seed }, seed + 1))
    state.observe(transactionOf(e, i++, random))
  gc()
  const used = bytesInUse() - before
  const cardsHeld = state.windows.cardCount
  if (cardsHeld === 0) throw new Error('no cards')
  return { bytesPerCard: used / cardsHeld, heapMiB: used / 2 ** 20 }
}

const faultMicros = pageFaultMicros()
windowsRate(200_000)
naiveRate(20_000)
const windows = repeated(() => windowsRate(events))
// A job that has run for longer than the longest window: every card's log is as long as it gets, and most moves of
// growing logs are over. The first 14 days run untimed, the next 14 are timed.
const steadyState = repeated(() => windowsRate(2 * events, events))
// The naive scan is too slow for the whole stream: both are also timed on the same first events, side by side.
const naiveEvents = Math.min(events, 200_000)
const naive = naiveRate(naiveEvents)
const windowsOnNaiveInput = windowsRate(naiveEvents).updatesPerSecond
const memoryCards = Number(values['memory-cards'])
const memory = memoryCards > 0 ? memoryPerCard(memoryCards, Number(values['memory-events'])) : undefined
const environment = {
  node: process.version,
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  events,
  cards,
  runs,
  seed,
  features: features.length,
  windowFeatures,
  pageFaultMicros: faultMicros,
}
const result = {
  environment,
  /** windows and steadyState: the median of the runs. */
  updatesPerSecond: {
    windows: windows.updatesPerSecond,
    steadyState: steadyState.updatesPerSecond,
    windowsOnNaiveInput,
    naive,
  },
  runs: { windows: windows.runs, steadyState: steadyState.runs },
  pageFaultsPer1000Updates: { windows: windows.faultsPer1000, steadyState: steadyState.faultsPer1000 },
  ratio: windowsOnNaiveInput / naive,
  memory,
}
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`)
else {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
  /** The share of a run's time its page faults took, at this machine's cost per fault. */
  const spread = (rate: { runs: readonly number[] }) =>
    rate.runs.length > 1
      ? `median of ${rate.runs.length} runs (${fmt(Math.min(...rate.runs))}–${fmt(Math.max(...rate.runs))})`
      : 'one run'
  const faultShare = (rate: Rate) =>
    `${rate.faultsPer1000.toFixed(1)} page faults per 1,000 updates${Number.isNaN(faultMicros) ? '' : `, ~${(((rate.faultsPer1000 / 1000) * faultMicros * rate.updatesPerSecond) / 1e4).toFixed(0)} % of the time`}`
  process.stdout.write(
    [
      `window-updates  node ${environment.node}, ${environment.cpus} cpus (${environment.cpu}), ${fmt(events)} events over ${fmt(cards)} cards, seed ${seed}, ${features.length} features (${windowFeatures} windowed)`,
      `  window.update  ${fmt(windows.updatesPerSecond)} updates/s on one core over all ${fmt(events)} events (14 days from empty), every window feature, ${spread(windows)}; ${faultShare(windows)}`,
      `  steady state   ${fmt(steadyState.updatesPerSecond)} updates/s over the next 14 days (${fmt(events)} more events, logs at full length), ${spread(steadyState)}; ${faultShare(steadyState)}`,
      `  vs naive       card-windows/naive-scan = ${result.ratio.toFixed(1)}x on the same first ${fmt(naiveEvents)} events (${fmt(windowsOnNaiveInput)} vs ${fmt(naive)} updates/s; naive: an event array per card, scanned once per window feature)`,
      Number.isNaN(faultMicros)
        ? '  page faults    their cost not measured: 16 MiB of fresh memory took few faults'
        : `  page faults    ${faultMicros.toFixed(1)} µs each on this machine (first touch of 16 MiB of fresh memory)`,
      memory
        ? `  memory         ${memory.bytesPerCard.toFixed(0)} bytes per active card, every window store (${fmt(memoryCards)} cards, ${fmt(Number(values['memory-events']))} events, ${memory.heapMiB.toFixed(0)} MiB heap and buffers)`
        : `  memory         skipped: ${memoryCards > 0 ? 'run with node --expose-gc' : '--memory-cards 0'}`,
    ].join('\n') + '\n',
  )
}
