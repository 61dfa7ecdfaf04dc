import { createReadStream, createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { cardFraudFeatures } from '../../topology/features.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { PartitionState, partitionStateOptions } from '../runtime/partition-state.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Label } from '../core/label-v1.js'
import { decodeLabel } from '../stages/decode/decode-transaction.js'
import { OfflineLookups } from '../stages/lookups/offline-lookups.js'
import { lookupPlanOf } from '../stages/lookups/lookup-plan.js'
import { formatInt, loadCliConfig, runCommand, withCommonOptions, type CommonOptions } from './common.js'

interface FeaturesOptions extends CommonOptions {
  input: string
  labels?: string
  out: string
}

/**
 * Point-in-time feature vectors for a file of transactions, through the same PartitionState the stream uses
 * (decode → dedupe → windows → feature row), so a model trained on this CSV sees exactly what serving computes.
 * Records are processed in file order, which must be the per-card order the topic would have. Lookup features
 * (terminal, merchant) read tables built from the whole file and the labels, as the stream's tables are once
 * complete up to each window; without --labels their label-based values are 0.
 */
export function registerFeatures(program: Command): void {
  const command = program
    .command('features')
    .description('point-in-time feature vectors for an NDJSON file of transactions, computed by the stream’s own code path, as CSV')
    .requiredOption('--input <tx.ndjson>', 'transactions, one JSON object per line, in event order')
    .option('--labels <labels.ndjson>', 'Label v1 records in topic order: they feed the label-based lookup features as in the stream, and add is_fraud (latest label wins, empty when unlabelled)')
    .requiredOption('--out <features.csv>', 'where to write the CSV')
  withCommonOptions(command, { logLevel: 'warn' }).action(async (opts: FeaturesOptions) => {
    await runCommand(opts, async () => {
      const { config } = loadCliConfig(opts, {}, { logLevel: 'warn' })
      const started = performance.now()
      const stateOptions = partitionStateOptions(config, cardFraudFeatures)
      const lookups = new OfflineLookups(lookupPlanOf(cardFraudFeatures, config.windows.allowedLatenessMs), config.windows.allowedLatenessMs)
      // The latest label per transaction, for the is_fraud column; every label (in file order) feeds the lookups.
      const labels = new Map<string, Label>()
      if (opts.labels) {
        let lineNumber = 0
        for await (const line of createInterface({ input: createReadStream(opts.labels) })) {
          lineNumber++
          if (!line.trim()) continue
          const decoded = decodeLabel(Buffer.from(line), { maxRecordBytes: config.decode.maxRecordBytes })
          if (decoded.kind === 'invalid') throw new FraudstreamError(ErrorCode.usage, `${opts.labels}:${lineNumber}: not a Label v1 (${decoded.reason}: ${decoded.message})`, 'input')
          const label = decoded.label
          lookups.addLabel(label)
          const known = labels.get(label.transaction_id)
          if (!known || known.reportedAtMs <= label.reportedAtMs) labels.set(label.transaction_id, label)
        }
      }
      // Pass 1 feeds the lookup tables with every on-time transaction; pass 2 recomputes each row (the same
      // PartitionState from scratch gives the same rows) and reads the complete tables, without holding rows in memory.
      const firstPass = new PartitionState(stateOptions)
      for await (const line of createInterface({ input: createReadStream(opts.input) })) {
        const processed = firstPass.process(Buffer.from(line))
        if (processed.kind === 'features') lookups.addTransaction(processed.tx, processed.late)
      }
      const state = new PartitionState(stateOptions)
      const names = cardFraudFeatures.map((f) => f.name)
      const out = createWriteStream(opts.out)
      const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())))
      await write(`${['transaction_id', 'card_id', 'event_time', ...names, ...(opts.labels ? ['is_fraud'] : [])].join(',')}\n`)
      const counts = { lines: 0, rows: 0, invalid: 0, duplicates: 0, late: 0, late_labels: lookups.lateLabels, unattributed_labels: lookups.unattributedLabels }
      for await (const line of createInterface({ input: createReadStream(opts.input) })) {
        counts.lines++
        const processed = state.process(Buffer.from(line))
        if (processed.kind === 'invalid') counts.invalid++
        else if (processed.kind === 'duplicate') counts.duplicates++
        else {
          if (processed.late) counts.late++
          const { tx, row } = processed
          lookups.fill(row, tx)
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
