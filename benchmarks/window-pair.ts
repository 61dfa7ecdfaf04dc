import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import type { Transaction } from '../src/core/transaction-v1.js'
import { PartitionState } from '../src/offline/partition-state.js'
import { WARM_MAX } from '../src/stages/windows/card-windows.js'
import { cardFraudFeatures } from '../topology/features.js'
import { CHUNK, transactionChunks, windowStateOptions } from './card-stream.js'

const USAGE = `Question: is this tree's window code faster or slower than another version's, beyond this machine's noise?

  npm run bench:windows-pair -- --base DIR [--cards 100000] [--events 2000000] [--rounds 8] [--from-empty] [--seed 1] [--json]

DIR is another checkout of fraudstream with its dependencies (a git worktree of the commit to compare, with a
node_modules link, works). Both versions' card state run in this process on the same stream, chunk by chunk,
alternating which goes first. Separate benchmark runs here differ by up to ±20 % within minutes; the rounds of one
paired run agree to about ±1 %, but the ratio itself moves from run to run (memory placement, JIT): identical code
read 0.98–1.05 over seven runs. Run it three times and read ratios within 5 % as no difference. 28 days of events (2
× --events, the events of 14 days) run untimed, then --rounds rounds of a quarter of --events each are timed, in the
steady state of bench:windows; --from-empty times from the first event instead, as its "from empty" does (rounds 1–4
are the first 14 days: logs growing, blocks moving, pages added). Prints updates/s of both per round and the median
ratio this/base. Each version's lines leave the cache while the other runs: at the default 100k cards neither fits in
it anyway, but a small --cards compares cold-cache runs, not the in-cache speed.`

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    cards: { type: 'string', default: '100000' },
    events: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    'from-empty': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help || !values.base) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(values.help ? 0 : 2)
}

/** What both versions must offer: the benchmark drives them through PartitionState, as bench:windows does. */
interface Version {
  readonly name: string
  /** Versions from before rows could be written into the caller's array ignore `rows` and `at`. */
  readonly state: {
    warm?(txs: readonly Transaction[]): void
    observe(tx: Transaction, rows: Float32Array, at: number): unknown
  }
  readonly warmMax: number
}

async function baseVersion(dir: string): Promise<Version> {
  const from = (path: string) => import(pathToFileURL(resolve(dir, path)).href)
  // The offline state moved from src/runtime to src/offline with the topology runtime.
  const { PartitionState: BaseState } = await from('src/offline/partition-state.ts').catch(() =>
    from('src/runtime/partition-state.ts'),
  )
  const { WARM_MAX: baseWarmMax } = await from('src/stages/windows/card-windows.ts')
  const { cardFraudFeatures: baseFeatures } = await from('topology/features.ts')
  // Versions from before warming had no WARM_MAX: one record at a time then.
  return {
    name: 'base',
    state: new BaseState(windowStateOptions(baseFeatures)),
    warmMax: typeof baseWarmMax === 'number' ? baseWarmMax : 1,
  }
}

/**
 * The chunk through one version, as the job processes a poll: warm WARM_MAX cards, then process them. The chunk is cut
 * before the timer starts: a version warming one card at a time would otherwise pay an array per record.
 */
function run(version: Version, chunk: readonly Transaction[]): number {
  const stretches: (readonly Transaction[])[] = []
  for (let i = 0; i < chunk.length; i += version.warmMax) stretches.push(chunk.slice(i, i + version.warmMax))
  const started = performance.now()
  // The rows side by side in a new array per chunk, as the job writes a poll's (bench:windows does the same).
  const rows = new Float32Array(chunk.length * cardFraudFeatures.length)
  let at = 0
  for (const stretch of stretches) {
    version.state.warm?.(stretch)
    for (const tx of stretch) {
      version.state.observe(tx, rows, at)
      at += cardFraudFeatures.length
    }
  }
  return performance.now() - started
}

const events = Number(values.events)
const rounds = Number(values.rounds)
const versions: readonly [Version, Version] = [
  await baseVersion(values.base),
  { name: 'this', state: new PartitionState(windowStateOptions(cardFraudFeatures)), warmMax: WARM_MAX },
]
const untimed = values['from-empty'] ? 0 : 2 * events
const roundEvents = Math.max(1, Math.floor(events / 4))
const elapsedMs = [0, 0]
const results: { base: number; this: number; ratio: number }[] = []
let done = 0
/** Where the round being timed started: rounds begin and end on chunk boundaries. */
let roundStart: number | undefined
if (!values.json)
  process.stdout.write(
    `window-pair  ${values.cards} cards, ${events.toLocaleString('en-US')} events per 14 days; ${untimed > 0 ? '28 days untimed, then ' : 'from empty, '}${rounds} rounds of ${roundEvents.toLocaleString('en-US')}\n`,
  )
// A chunk more per round than needed: rounds round up to whole chunks.
for (const chunk of transactionChunks(untimed + rounds * (roundEvents + CHUNK), {
  cards: Number(values.cards),
  eventsPer14Days: events,
  seed: Number(values.seed),
})) {
  if (results.length === rounds) break
  if (done >= untimed) roundStart ??= done
  const order = (done / CHUNK) % 2 === 0 ? [0, 1] : [1, 0]
  for (const v of order) {
    const ms = run(versions[v]!, chunk)
    if (roundStart !== undefined) elapsedMs[v]! += ms
  }
  done += chunk.length
  if (roundStart !== undefined && done >= roundStart + roundEvents) {
    const timed = done - roundStart
    const [base, mine] = elapsedMs.map((ms) => (timed / ms) * 1000) as [number, number]
    results.push({ base, this: mine, ratio: mine / base })
    if (!values.json)
      process.stdout.write(
        `  round ${results.length}: base ${Math.round(base).toLocaleString('en-US')}/s, this ${Math.round(mine).toLocaleString('en-US')}/s, this/base ${(mine / base).toFixed(3)}\n`,
      )
    elapsedMs.fill(0)
    roundStart = done
  }
}
const ratios = results.map((r) => r.ratio).sort((a, b) => a - b)
const middle = ratios.length >> 1
const medianRatio = ratios.length % 2 === 1 ? ratios[middle] : (ratios[middle - 1]! + ratios[middle]!) / 2
const summary = { rounds: results, medianRatio, minRatio: ratios[0], maxRatio: ratios.at(-1) }
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
else
  process.stdout.write(
    `  this/base median ${summary.medianRatio?.toFixed(3)} (rounds from ${summary.minRatio?.toFixed(3)} to ${summary.maxRatio?.toFixed(3)})\n`,
  )
