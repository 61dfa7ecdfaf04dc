import { loadLinearPackage } from '../src/adapters/onnx/linear-package.js'
import { OnnxScorer } from '../src/adapters/onnx/onnx-scorer.js'
import { loadConfig } from '../src/config/load.js'
import { decisionAt } from '../src/stages/decide/decide.js'
import { featureContractHash } from '../src/stages/features/feature-definition.js'
import { firstTierScores, settledByFirstTier, type FirstTier } from '../src/stages/infer/first-tier.js'
import { lineupOf } from '../src/models/lineup.js'
import { generateTrainingSet } from '../src/training/train.js'
import { cardFraudFeatures } from '../topology/features.js'
import { benchmarkArgs } from './args.js'
import { benchEnvironment, fmt } from './harness.js'

const USAGE = `Question: how many more transactions per second does the score stage handle with tiered scoring (infer.tiers: a
logistic first tier on the main thread, the tree model only for the borderline band) than with the tree model alone,
and what does the first tier settle that the tree model would have flagged?

  npm run bench:tiers -- [--transactions 40000] [--first card-fraud-lr@2] [--champion card-fraud-gbdt@1]
                         [--approve-below 0.02] [--threads 2] [--batch 256] [--rounds 5] [--repeat 5] [--models-dir ./models] [--json]

Rows: feature rows of --transactions generated transactions (the stream's own feature code, seed --seed), scored in
batches of --batch with 2 × --threads batches in flight, as the score stage sends them. The legs alternate in this one
process (tree alone, tiered, tree alone, …) for --rounds rounds each, a leg scoring the rows --repeat times: the ratio of their median rows/s is what to read,
since the machine is shared. The decision table compares, for a few approveBelow values, the share of rows sent to
the tree model and the rows tier 1 approves that the tree model would have reviewed or declined (and the frauds among
them).`

const args = benchmarkArgs(
  USAGE,
  {
    transactions: { type: 'string', default: '40000' },
    first: { type: 'string', default: 'card-fraud-lr@2' },
    champion: { type: 'string', default: 'card-fraud-gbdt@1' },
    'approve-below': { type: 'string', default: '0.02' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '5' },
    repeat: { type: 'string', default: '5' },
    'models-dir': { type: 'string', default: './models' },
  },
  '11',
)
const say = (line: string) => {
  if (!args.json) process.stdout.write(`${line}\n`)
}
const config = loadConfig({ overrides: { environment: 'test' } })
const names = cardFraudFeatures.map((f) => f.name)
const contract = { hash: featureContractHash(cardFraudFeatures), names }
const width = names.length
const batchSize = Number(args.batch)
const threads = Number(args.threads)
const approveBelow = Number(args['approve-below'])

const set = generateTrainingSet({
  seed: Number(args.seed),
  fraudRate: 0.01,
  transactions: Number(args.transactions),
  config,
})
const rows = set.rows
const { pkg, linear } = loadLinearPackage(args['models-dir'], args.first, contract)
const tier: FirstTier = {
  model: { name: pkg.manifest.name, version: pkg.manifest.version },
  linear,
  thresholds: pkg.manifest.thresholds,
  approveBelow,
  declineFrom: Infinity,
}
const lineup = lineupOf(
  { champion: args.champion, shadows: [] },
  { modelsDir: args['models-dir'], contract, thresholds: config.thresholds },
)
const scorer = new OnnxScorer(lineup, { threads, explainTopK: config.infer.explainTopK })
await scorer.ready

/** Scores every row in batches, `2 × threads` in flight; `tiered` first runs the first tier and sends the band only. */
async function leg(tiered: boolean): Promise<{ rowsPerSecond: number; toWorkers: number }> {
  const inFlight = new Set<Promise<unknown>>()
  let toWorkers = 0
  let done = 0
  const started = performance.now()
  const repeat = Number(args.repeat)
  for (let at = 0; at < rows.length * repeat; at += batchSize) {
    const from = at % rows.length
    const batch = rows.slice(from, from + batchSize)
    done += batch.length
    let send = batch
    if (tiered) {
      const scores = firstTierScores(
        tier,
        batch.map((row) => ({ rows: row, at: 0 })),
      )
      send = batch.filter((_, i) => !settledByFirstTier(tier, scores[i]!))
      if (send.length === 0) continue
    }
    const flat = new Float32Array(send.length * width)
    send.forEach((row, i) => flat.set(row, i * width))
    toWorkers += send.length
    const running = scorer.score(flat, send.length)
    inFlight.add(running)
    void running.finally(() => inFlight.delete(running))
    while (inFlight.size >= 2 * threads) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  return {
    rowsPerSecond: done / ((performance.now() - started) / 1000),
    toWorkers: (toWorkers * rows.length) / done,
  }
}

/** The tree model's score of every row, in one pass (for the decision table). */
async function treeScores(): Promise<Float32Array> {
  const out = new Float32Array(rows.length)
  for (let from = 0; from < rows.length; from += 4_096) {
    const batch = rows.slice(from, from + 4_096)
    const flat = new Float32Array(batch.length * width)
    batch.forEach((row, i) => flat.set(row, i * width))
    const scored = await scorer.score(flat, batch.length)
    out.set(scored.models[0]!.scores, from)
  }
  return out
}

const env = benchEnvironment()
say(`tiered scoring  node ${env.node}  ${env.cpus} CPUs (${env.cpu})`)
say(
  `  ${fmt(rows.length)} rows × ${width} features (seed ${args.seed})  first ${args.first}  tree ${args.champion}  approveBelow ${approveBelow}  threads ${threads}  batch ${batchSize}`,
)
await leg(false)
await leg(true)
const plain: number[] = []
const tieredRuns: number[] = []
let toWorkers = 0
for (let round = 0; round < Number(args.rounds); round++) {
  plain.push((await leg(false)).rowsPerSecond)
  const t = await leg(true)
  tieredRuns.push(t.rowsPerSecond)
  toWorkers = t.toWorkers
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ratio = median(tieredRuns) / median(plain)
say(
  `  score stage  tiered/tree-only = ${ratio.toFixed(2)}x  (${fmt(Math.round(median(tieredRuns)))} vs ${fmt(Math.round(median(plain)))} rows/s; ${((100 * toWorkers) / rows.length).toFixed(1)} % of rows to the workers)`,
)

const firstStarted = performance.now()
const first = firstTierScores(
  tier,
  rows.map((row) => ({ rows: row, at: 0 })),
)
const firstUsPerRow = ((performance.now() - firstStarted) * 1000) / rows.length
say(`  first tier on the main thread: ${firstUsPerRow.toFixed(2)} µs a row`)

const tree = await treeScores()
const cut = lineup.champion.thresholds
const table: {
  approveBelow: number
  toTree: number
  flaggedSettled: number
  fraudSettled: number
  fraudFlaggedSettled: number
}[] = []
const frauds = set.labels.filter(Boolean).length
for (const below of [0.005, 0.01, 0.02, 0.05, 0.1]) {
  let toTree = 0
  let flaggedSettled = 0
  let fraudSettled = 0
  let fraudFlaggedSettled = 0
  for (let i = 0; i < rows.length; i++) {
    if (first[i]! >= below) {
      toTree++
      continue
    }
    const flagged = decisionAt(tree[i]!, cut) !== 'approve'
    if (flagged) flaggedSettled++
    if (set.labels[i]) fraudSettled++
    if (set.labels[i] && flagged) fraudFlaggedSettled++
  }
  table.push({ approveBelow: below, toTree, flaggedSettled, fraudSettled, fraudFlaggedSettled })
}
say(
  `  approveBelow  to tree   approved in tier 1 that the tree flags   frauds approved in tier 1 (flagged by the tree) of ${frauds}`,
)
for (const r of table)
  say(
    `  ${String(r.approveBelow).padEnd(12)}  ${((100 * r.toTree) / rows.length).toFixed(1).padStart(5)} %   ${String(r.flaggedSettled).padStart(8)}                                  ${r.fraudSettled} (${r.fraudFlaggedSettled})`,
  )
if (args.json)
  process.stdout.write(
    `${JSON.stringify({ env, rows: rows.length, approveBelow, ratio, tieredRowsPerSecond: median(tieredRuns), treeRowsPerSecond: median(plain), toWorkersShare: toWorkers / rows.length, firstUsPerRow, table, frauds })}\n`,
  )
await scorer.close()
