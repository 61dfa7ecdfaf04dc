import { createWriteStream } from 'node:fs'
import type { Command } from 'commander'
import { loadFeatures, withFeaturesOption } from './feature-module.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { computeFeatureFile } from '../offline/feature-file.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { formatInt, loadCliConfig, runCommand, withCommonOptions, type CommonOptions } from './common.js'
import { Progress } from './progress.js'
import { assertReadable, firstLines, withTopicLayoutOptions, type TopicLayoutOptions } from './feature-input.js'

interface FeaturesOptions extends CommonOptions, TopicLayoutOptions {
  input: string
  labels?: string
  out: string
}

/**
 * Point-in-time feature vectors for a file of transactions as CSV, through the stream's own code path
 * (computeFeatureFile: the same PartitionState per partition, lookup tables fed and evicted as the stream's), so a model
 * trained on this CSV sees exactly what serving computes. Without --labels, label-based lookups read 0.
 */
export function registerFeatures(program: Command): void {
  const command = program
    .command('features')
    .description(
      'point-in-time feature vectors for an NDJSON file of transactions, computed by the stream’s own code path, as CSV',
    )
    .requiredOption(
      '--input <tx.ndjson[.gz]>',
      'transactions, one JSON object per line (gunzipped when the name ends in .gz), in topic order within each partition (event order will do); or a dump of the topic by kcat -C -J, whose envelopes give each record its partition and timestamp',
    )
    .option(
      '--labels <labels.ndjson[.gz]>',
      'Label v1 records in topic order, one a line or as kcat -C -J envelopes: they feed the label-based lookup features as in the stream, and add is_fraud (latest label wins, empty when unlabelled)',
    )
    .requiredOption('--out <features.csv>', 'where to write the CSV')
  withCommonOptions(withFeaturesOption(withTopicLayoutOptions(command)), { logLevel: 'warn' }).action(
    async (opts: FeaturesOptions & { features?: string }) => {
      await runCommand(opts, async () => {
        const { config } = loadCliConfig(opts, opts.features ? { 'features.module': opts.features } : {}, {
          logLevel: 'warn',
        })
        const features = await loadFeatures(config)
        const started = performance.now()
        const { partitions, labelPartitions, partitioner } = opts
        // Inputs checked before --out is opened: a mistyped path must not truncate or leave behind the output file.
        await assertReadable('--input', opts.input)
        if (opts.labels) await assertReadable('--labels', opts.labels)
        // Opened before the passes: an unwritable path fails now, not after a pass over the whole input.
        const out = await openForWriting(opts.out)
        const names = features.map((f) => f.name)
        await out.write(
          `${['transaction_id', 'card_id', 'event_time', ...names, ...(opts.labels ? ['is_fraud'] : [])].join(',')}\n`,
        )
        const progress = new Progress()
        const { counts, invalidLines, invalidLabelLines } = await computeFeatureFile(
          {
            transactionsPath: opts.input,
            ...(opts.labels ? { labelsPath: opts.labels } : {}),
            features,
            config,
            partitions,
            labelPartitions,
            partitioner,
            // One pass over the input, two when labels must be attributed from their transactions (lookups first).
            ...(opts.json
              ? {}
              : {
                  onProgress: (phase, lines) =>
                    progress.update([`  ${phase}: ${formatInt(lines)} lines`], `  ${phase}: ${formatInt(lines)} lines`),
                }),
          },
          ({ tx, row, label }) => {
            const cells = [
              csv(tx.transaction_id),
              csv(tx.card_id),
              new Date(tx.eventTimeMs).toISOString(),
              ...Array.from(row, String),
            ]
            if (opts.labels) cells.push(label ? (label.is_fraud ? '1' : '0') : '')
            return out.buffer(`${cells.join(',')}\n`)
          },
        )
        await out.flush()
        await out.end()
        progress.done()
        const invalidLabels = counts.invalid_labels
        const summary = {
          ok: true,
          ...counts,
          partitions,
          label_partitions: labelPartitions,
          partitioner,
          features: names.length,
          feature_contract: featureContractHash(features),
          out: opts.out,
          elapsed_s: Math.round(performance.now() - started) / 1000,
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
        else {
          process.stdout.write(
            `wrote ${formatInt(counts.rows)} feature rows (${names.length} features, contract ${summary.feature_contract}) to ${opts.out}; skipped ${formatInt(counts.invalid)} invalid and ${formatInt(counts.duplicates)} duplicate lines; ${formatInt(counts.late)} late (scored, not in the windows) in ${summary.elapsed_s}s\n`,
          )
          if (counts.invalid > 0)
            process.stdout.write(`invalid transaction lines: ${firstLines(invalidLines, counts.invalid)}\n`)
          if (invalidLabels > 0)
            process.stdout.write(`invalid label lines: ${firstLines(invalidLabelLines, invalidLabels)}\n`)
          if (counts.budget_evictions > 0)
            process.stdout.write(
              `${formatInt(counts.budget_evictions)} cards evicted by windows.maxStateBytesPerPartition: their features restarted from empty, as in the stream\n`,
            )
        }
      })
    },
  )
}

/** A file opened for writing, with backpressure, whose errors reject the write or end that meets them. */
/** Lines kept before they are written: a write (and a wait on it) per row would cost more than the row. */
const BUFFERED_CHARS = 1 << 16

async function openForWriting(path: string): Promise<{
  write(text: string): Promise<void>
  /** `write` a line later, with others: a promise only when they were written now. */
  buffer(line: string): Promise<void> | undefined
  flush(): Promise<void>
  end(): Promise<void>
}> {
  const stream = createWriteStream(path)
  let failure: Error | undefined
  stream.on('error', (err) => (failure = err))
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve())
    stream.once('error', (err) =>
      reject(
        new FraudstreamError(ErrorCode.usage, `cannot write ${path}: ${err.message}`, 'input', false, { cause: err }),
      ),
    )
  })
  const check = () => {
    if (failure)
      throw new FraudstreamError(ErrorCode.usage, `writing ${path} failed: ${failure.message}`, 'input', false, {
        cause: failure,
      })
  }
  let lines: string[] = []
  let chars = 0
  const write = async (text: string): Promise<void> => {
    check()
    if (!stream.write(text)) {
      // Each wait removes both of its listeners, whichever fires: a listener left behind per wait would pile up
      // on the stream for the whole run (MaxListenersExceededWarning after ten waits).
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done)
          stream.off('error', done)
          resolve()
        }
        stream.once('drain', done)
        stream.once('error', done)
      })
    }
    check()
  }
  const flush = (): Promise<void> => {
    const text = lines.join('')
    lines = []
    chars = 0
    return write(text)
  }
  return {
    write,
    buffer(line) {
      lines.push(line)
      chars += line.length
      return chars >= BUFFERED_CHARS ? flush() : undefined
    },
    flush,
    async end() {
      await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())))
      check()
    },
  }
}

function csv(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}
