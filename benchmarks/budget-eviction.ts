import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Random } from '../src/generator/random.js'
import { PartitionState } from '../src/offline/partition-state.js'
import { cardFraudFeatures } from '../topology/features.js'
import { cardEvents, transactionOf, windowStateOptions } from './card-stream.js'
import { benchmarkArgs } from './args.js'

const USAGE = `Question: how long does the card state stop the event loop when its byte budget bites, with a million cards?

  npm run bench:budget -- [--cards 1000000] [--events 10000000] [--share 0.5] [--rounds 2] [--base DIR] [--seed 1] [--json]

Fills the window state of the default feature set with --events events over --cards cards (as the memory figure of
bench:windows does), then times one enforceBudget to --share of its estimate: the cards dropped and the pause. With
--base DIR (another checkout with its dependencies, e.g. a git worktree with a node_modules link) the other version
runs the same, alternating with this one round by round, and the ratio of their pauses is printed.`

const values = benchmarkArgs(USAGE, {
  cards: { type: 'string', default: '1000000' },
  events: { type: 'string', default: '10000000' },
  share: { type: 'string', default: '0.5' },
  rounds: { type: 'string', default: '2' },
  base: { type: 'string' },
})
const cards = Number(values.cards)
const events = Number(values.events)
const share = Number(values.share)
const seed = Number(values.seed)

interface Version {
  readonly name: string
  readonly create: () => {
    observe(tx: ReturnType<typeof transactionOf>): unknown
    windows: { estimatedBytes: number; cardCount: number; enforceBudget(maxBytes: number): number }
  }
}

async function baseVersion(dir: string): Promise<Version> {
  const from = (path: string) => import(pathToFileURL(resolve(dir, path)).href)
  // The offline state moved from src/runtime to src/offline with the topology runtime.
  const { PartitionState: BaseState } = await from('src/offline/partition-state.ts').catch(() =>
    from('src/runtime/partition-state.ts'),
  )
  const { cardFraudFeatures: baseFeatures } = await from('topology/features.ts')
  return { name: 'base', create: () => new BaseState(windowStateOptions(baseFeatures)) }
}

function round(version: Version): { pauseMs: number; evicted: number; cardsBefore: number } {
  const state = version.create()
  const random = new Random(seed + 9)
  let i = 0
  for (const e of cardEvents(events, { cards, eventsPer14Days: events, seed }, seed + 1))
    state.observe(transactionOf(e, i++, random))
  const cardsBefore = state.windows.cardCount
  const budget = state.windows.estimatedBytes * share
  const started = performance.now()
  const evicted = state.windows.enforceBudget(budget)
  return { pauseMs: performance.now() - started, evicted, cardsBefore }
}

const versions: Version[] = [{ name: 'this', create: () => new PartitionState(windowStateOptions(cardFraudFeatures)) }]
if (values.base) versions.unshift(await baseVersion(values.base))
const results: Record<string, { pauseMs: number; evicted: number; cardsBefore: number }[]> = Object.fromEntries(
  versions.map((v) => [v.name, []]),
)
for (let r = 0; r < Number(values.rounds); r++) {
  // Alternating which goes first: the machine's speed drifts within minutes.
  for (const version of r % 2 === 0 ? versions : [...versions].reverse()) {
    const result = round(version)
    results[version.name]!.push(result)
    if (!values.json)
      process.stderr.write(
        `  round ${r + 1} ${version.name}: ${result.pauseMs.toFixed(0)} ms to drop ${result.evicted.toLocaleString('en-US')} of ${result.cardsBefore.toLocaleString('en-US')} cards\n`,
      )
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pauses = Object.fromEntries(Object.entries(results).map(([name, rs]) => [name, median(rs.map((x) => x.pauseMs))]))
// Rounds are paired (each version once, back to back): the ratio of a pair is steadier than either pause.
const ratios = values.base ? results['this']!.map((r, i) => r.pauseMs / results['base']![i]!.pauseMs) : []
const summary = {
  cards,
  events,
  share,
  rounds: Number(values.rounds),
  medianPauseMs: pauses,
  ratios,
  ratio: values.base ? median(ratios) : undefined,
  results,
}
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
else {
  const line = Object.entries(pauses)
    .map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`)
    .join(', ')
  process.stdout.write(
    `budget-eviction  ${cards.toLocaleString('en-US')} cards, ${events.toLocaleString('en-US')} events, budget ${share} of the estimate: median pause ${line}${summary.ratio === undefined ? '' : `; this/base ${summary.ratio.toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`}\n`,
  )
}
