import { constants, createWriteStream } from 'node:fs'
import { access } from 'node:fs/promises'
import type { Command } from 'commander'
import { loadFeatures, withFeaturesOption } from './feature-module.js'
import { featureContractHash } from '../stages/features/feature-definition.js'
import { partitionStateOptions, type ProcessedRecord } from '../offline/partition-state.js'
import { PartitionedStates } from '../offline/partitioned-states.js'
import { partitionOf, Partitioner } from '../adapters/kafka/partitioner.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { Label } from '../core/label-v1.js'
import { decodeLabel } from '../stages/decode/decode-transaction.js'
import { OfflineLookups } from '../stages/lookups/offline-lookups.js'
import { lookupPlanOf } from '../stages/lookups/lookup-plan.js'
import { parseDumpLine, readLines } from './dump-line.js'
import { formatInt, loadCliConfig, parseInteger, runCommand, withCommonOptions, type CommonOptions } from './common.js'

interface FeaturesOptions extends CommonOptions {
  input: string
  labels?: string
  out: string
  partitions: number
  labelPartitions: number
  partitioner: Partitioner
}

/**
 * Point-in-time feature vectors for a file of transactions, through the same PartitionState the stream uses
 * (decode → dedupe → windows → feature row), so a model trained on this CSV sees exactly what serving computes.
 * As in the stream, each partition of the transactions topic (by card_id, as the producer's partitioner put it) has
 * its own watermark, dedupe and state, and each labels partition (by transaction_id) its own label watermark: the
 * file must hold each partition's records in the topic's order (a dump of the topic, or event order). A dump by
 * `kcat -C -J` gives each record its partition, so no partitioner is assumed, and its Kafka timestamp, so event times
 * too far ahead of it are invalid as in the stream (decode.maxEventTimeAheadMs); bare values have neither. Lookup
 * features (terminal, merchant) read tables built from the whole file and the labels, as the stream's tables are
 * once complete up to each window; without --labels their label-based values are 0.
 */
export function registerFeatures(program: Command): void {
  const command = program
    .command('features')
    .description(
      'point-in-time feature vectors for an NDJSON file of transactions, computed by the stream’s own code path, as CSV',
    )
    .requiredOption(
      '--input <tx.ndjson>',
      'transactions, one JSON object per line, in topic order within each partition (event order will do); or a dump of the topic by kcat -C -J, whose envelopes give each record its partition and timestamp',
    )
    .option(
      '--labels <labels.ndjson>',
      'Label v1 records in topic order, one a line or as kcat -C -J envelopes: they feed the label-based lookup features as in the stream, and add is_fraud (latest label wins, empty when unlabelled)',
    )
    .requiredOption('--out <features.csv>', 'where to write the CSV')
    .option(
      '--partitions <n>',
      'partitions of the transactions topic: each has its own watermark, dedupe and window state, as in the stream (the embedded cluster has 4)',
      parseInteger('--partitions', 1),
      4,
    )
    .option(
      '--label-partitions <n>',
      'partitions of the labels topic: each has its own label watermark',
      parseInteger('--label-partitions', 1),
      4,
    )
    .option(
      '--partitioner <name>',
      `how the topics' producers chose a partition from the key (card_id, transaction_id): ${Partitioner.join(' or ')} (murmur2: Java clients, Kafka Streams and fraudstream's own; crc32: librdkafka's default)`,
      parsePartitioner,
      'murmur2' as Partitioner,
    )
  withCommonOptions(withFeaturesOption(command), { logLevel: 'warn' }).action(
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
        const stateOptions = partitionStateOptions(config, features)
        const lateness = config.windows.allowedLatenessMs
        const lookups = new OfflineLookups(lookupPlanOf(features, lateness), lateness, (label) =>
          partitionOf(label.transaction_id, labelPartitions, partitioner),
        )
        // The latest label per transaction, for the is_fraud column; every valid label (in file order) feeds the lookups.
        const labels = new Map<string, Label>()
        // The first few line numbers of each kind of skipped line, for a person to look at.
        const invalidLabelLines: number[] = []
        let invalidLabels = 0
        if (opts.labels) {
          let lineNumber = 0
          for await (const line of readLines(opts.labels)) {
            lineNumber++
            if (line.toString('latin1').trim() === '') continue
            const record = parseDumpLine(line)
            if (record.partition !== undefined && !(record.partition < labelPartitions)) {
              throw new FraudstreamError(
                ErrorCode.usage,
                `line ${lineNumber} of ${opts.labels} is a record of labels partition ${record.partition}, with --label-partitions ${labelPartitions}: give the topic's partition count`,
                'input',
              )
            }
            const decoded = decodeLabel(record.value, { maxRecordBytes: config.decode.maxRecordBytes })
            // The stream dead-letters an invalid label and goes on: so does this, and says which lines.
            if (decoded.kind === 'invalid') {
              if (invalidLabels++ < SHOWN_LINES) invalidLabelLines.push(lineNumber)
              continue
            }
            const label = decoded.label
            lookups.addLabel(label, record.partition)
            const known = labels.get(label.transaction_id)
            if (!known || known.reportedAtMs <= label.reportedAtMs) labels.set(label.transaction_id, label)
          }
        }
        // Pass 1 feeds the lookup tables with every on-time transaction; pass 2 recomputes each row (the same
        // states from scratch give the same rows) and reads the complete tables, without holding rows in memory.
        await forEachTransaction(
          opts.input,
          new PartitionedStates(stateOptions, partitions, partitioner),
          (processed) => {
            if (processed.kind === 'features') lookups.addTransaction(processed.tx, processed.late)
          },
        )
        const names = features.map((f) => f.name)
        await out.write(
          `${['transaction_id', 'card_id', 'event_time', ...names, ...(opts.labels ? ['is_fraud'] : [])].join(',')}\n`,
        )
        const counts = {
          lines: 0,
          rows: 0,
          invalid: 0,
          duplicates: 0,
          late: 0,
          budget_evictions: 0,
          late_labels: lookups.lateLabels,
          unattributed_labels: lookups.unattributedLabels,
          invalid_labels: invalidLabels,
        }
        const invalidLines: number[] = []
        const states = await forEachTransaction(
          opts.input,
          new PartitionedStates(stateOptions, partitions, partitioner),
          async (processed, lineNumber) => {
            counts.lines++
            if (processed.kind === 'invalid') {
              if (counts.invalid++ < SHOWN_LINES) invalidLines.push(lineNumber)
            } else if (processed.kind === 'duplicate') counts.duplicates++
            else {
              if (processed.late) counts.late++
              const { tx, row } = processed
              lookups.fill(row, tx, processed.lookupAtMs)
              const label = labels.get(tx.transaction_id)
              const cells = [
                csv(tx.transaction_id),
                csv(tx.card_id),
                new Date(tx.eventTimeMs).toISOString(),
                ...Array.from(row, String),
              ]
              if (opts.labels) cells.push(label ? (label.is_fraud ? '1' : '0') : '')
              await out.write(`${cells.join(',')}\n`)
              counts.rows++
            }
          },
        )
        counts.budget_evictions = states.budgetEvictions
        await out.end()
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

/** Every line of the file (a value, or a dump's envelope) through its partition's state; returns the states. */
async function forEachTransaction(
  path: string,
  states: PartitionedStates,
  onRecord: (processed: ProcessedRecord, lineNumber: number) => void | Promise<void>,
): Promise<PartitionedStates> {
  let lineNumber = 0
  for await (const line of readLines(path)) {
    const record = parseDumpLine(line)
    lineNumber++
    let processed: ProcessedRecord
    try {
      processed = states.process(record.value, record)
    } catch (err) {
      if (!(err instanceof FraudstreamError)) throw err
      throw new FraudstreamError(err.code, `line ${lineNumber} of ${path}: ${err.message}`, err.domain, err.retryable, {
        cause: err,
      })
    }
    await onRecord(processed, lineNumber)
  }
  return states
}

/** Parses --partitioner, naming the allowed values when it is not one. */
function parsePartitioner(value: string): Partitioner {
  if ((Partitioner as readonly string[]).includes(value)) return value as Partitioner
  throw new FraudstreamError(
    ErrorCode.usage,
    `--partitioner must be ${Partitioner.join(' or ')}, got "${value}"`,
    'input',
  )
}

/** Rejects an input option whose file cannot be read, naming the option, as a usage error. */
async function assertReadable(option: string, path: string): Promise<void> {
  try {
    await access(path, constants.R_OK)
  } catch (err) {
    const reason = (err as { code?: string }).code ?? String(err)
    throw new FraudstreamError(
      ErrorCode.usage,
      `${option} ${path} cannot be read (${reason}): give the path of a readable NDJSON file`,
      'input',
      false,
      { cause: err },
    )
  }
}

const SHOWN_LINES = 10

function firstLines(lineNumbers: readonly number[], total: number): string {
  return `${lineNumbers.join(', ')}${total > lineNumbers.length ? `, … (${formatInt(total)} in all)` : ''}`
}

/** A file opened for writing, with backpressure, whose errors reject the write or end that meets them. */
async function openForWriting(path: string): Promise<{ write(text: string): Promise<void>; end(): Promise<void> }> {
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
  return {
    async write(text) {
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
    },
    async end() {
      await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())))
      check()
    },
  }
}

function csv(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}
