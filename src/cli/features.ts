import { createReadStream, createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { cardFraudFeatures } from '../../topology/features.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { PartitionState, partitionStateOptions } from '../runtime/partition-state.js'
import { formatInt, loadCliConfig, runCommand, withCommonOptions, type CommonOptions } from './common.js'

interface FeaturesOptions extends CommonOptions {
  input: string
  labels?: string
  out: string
}

/**
 * Point-in-time feature vectors for a file of transactions, through the same PartitionState the stream uses
 * (decode → dedupe → windows → feature row), so a model trained on this CSV sees exactly what serving computes.
 * Records are processed in file order, which must be the per-card order the topic would have.
 */
export function registerFeatures(program: Command): void {
  const command = program
    .command('features')
    .description('point-in-time feature vectors for an NDJSON file of transactions, computed by the stream’s own code path, as CSV')
    .requiredOption('--input <tx.ndjson>', 'transactions, one JSON object per line, in event order')
    .option('--labels <labels.ndjson>', 'Label v1 records; adds is_fraud (latest label per transaction wins, empty when unlabelled)')
    .requiredOption('--out <features.csv>', 'where to write the CSV')
  withCommonOptions(command, { logLevel: 'warn' }).action(async (opts: FeaturesOptions) => {
    await runCommand(opts, async () => {
      const { config } = loadCliConfig(opts, {}, { logLevel: 'warn' })
      const started = performance.now()
      const labels = new Map<string, { is_fraud: boolean; reported_at: string }>()
      if (opts.labels) {
        for await (const line of createInterface({ input: createReadStream(opts.labels) })) {
          if (!line.trim()) continue
          const label = JSON.parse(line) as { transaction_id: string; is_fraud: boolean; reported_at: string }
          const known = labels.get(label.transaction_id)
          if (!known || known.reported_at <= label.reported_at) labels.set(label.transaction_id, label)
        }
      }
      const state = new PartitionState(partitionStateOptions(config, cardFraudFeatures))
      const names = cardFraudFeatures.map((f) => f.name)
      const out = createWriteStream(opts.out)
      const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())))
      await write(`${['transaction_id', 'card_id', 'event_time', ...names, ...(opts.labels ? ['is_fraud'] : [])].join(',')}\n`)
      const counts = { lines: 0, rows: 0, invalid: 0, duplicates: 0, late: 0 }
      for await (const line of createInterface({ input: createReadStream(opts.input) })) {
        counts.lines++
        const processed = state.process(Buffer.from(line))
        if (processed.kind === 'invalid') counts.invalid++
        else if (processed.kind === 'duplicate') counts.duplicates++
        else {
          if (processed.late) counts.late++
          const { tx, row } = processed
          const label = labels.get(tx.transaction_id)
          const cells = [csv(tx.transaction_id), csv(tx.card_id), new Date(tx.eventTimeMs).toISOString(), ...Array.from(row, String)]
          if (opts.labels) cells.push(label ? (label.is_fraud ? '1' : '0') : '')
          await write(`${cells.join(',')}\n`)
          counts.rows++
        }
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
      const summary = { ok: true, ...counts, features: names.length, feature_contract: featureContractHash(cardFraudFeatures), out: opts.out, elapsed_s: Math.round(performance.now() - started) / 1000 }
      if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
      else process.stdout.write(`wrote ${formatInt(counts.rows)} feature rows (${names.length} features, contract ${summary.feature_contract}) to ${opts.out}; skipped ${formatInt(counts.invalid)} invalid and ${formatInt(counts.duplicates)} duplicate lines in ${summary.elapsed_s}s\n`)
    })
  })
}

function csv(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}
