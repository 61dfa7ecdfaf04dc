import { createWriteStream, type WriteStream } from 'node:fs'
import type { Command } from 'commander'
import { KafkaProducerSink } from '../adapters/kafka/producer-sink.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { publishGenerated } from '../generator/publish.js'
import {
  defaultGeneratorOptions,
  TransactionGenerator,
  type GeneratedRecord,
} from '../generator/transaction-generator.js'
import {
  formatInt,
  loadCliConfig,
  parseFormat,
  parseInteger,
  parseNumber,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'

interface GenerateOptions extends CommonOptions {
  count: number
  rate: string
  seed: number
  fraudRate: number
  invalidRate: number
  duplicateRate: number
  customers: number
  merchants: number
  format: string
  out?: string
  labelsOut?: string
  brokers?: string
}

export function registerGenerate(program: Command): void {
  const command = program
    .command('generate')
    .description(
      'seeded, deterministic Transaction v1 records (with labels days later in event time) to Kafka or an NDJSON file',
    )
    .option(
      '--count <n>',
      'records on the transactions topic (valid, invalid and duplicates together)',
      parseInteger('--count', 1),
      10_000,
    )
    .option('--rate <tx/s|max>', 'records per second when writing to Kafka', 'max')
    .option('--seed <n>', 'seed: the same seed gives the same records', parseInteger('--seed', 0), 42)
    .option(
      '--fraud-rate <p>',
      'share of fraudulent transactions (0.005–0.02 is realistic)',
      parseNumber('--fraud-rate', 0, 0.5),
      0.01,
    )
    .option('--invalid-rate <p>', 'share of invalid records', parseNumber('--invalid-rate', 0, 1), 0)
    .option('--duplicate-rate <p>', 'share of re-sent duplicates', parseNumber('--duplicate-rate', 0, 1), 0)
    .option(
      '--customers <n>',
      'simulated customers (each ~2.4 transactions a day): fewer customers = more days of event time',
      parseInteger('--customers', 1),
      defaultGeneratorOptions.customers,
    )
    .option('--merchants <n>', 'simulated merchants', parseInteger('--merchants', 1), defaultGeneratorOptions.merchants)
    .option('--format <json|msgpack|mixed>', 'value encoding on Kafka (files are always JSON)', 'json')
    .option('--out <file.ndjson>', 'write transactions to this file instead of Kafka')
    .option('--labels-out <file.ndjson>', 'where labels go with --out (default: beside it, *.labels.ndjson)')
    .option('--brokers <list>', 'Kafka bootstrap servers (default: kafka.brokers from config)')
  withCommonOptions(command, { logLevel: 'warn' }).action(async (opts: GenerateOptions) => {
    await runCommand(opts, async () => {
      const { config, log } = loadCliConfig(opts, opts.brokers ? { 'kafka.brokers': opts.brokers.split(',') } : {}, {
        logLevel: 'warn',
      })
      const format = parseFormat(opts.format)
      const started = performance.now()
      const generator = new TransactionGenerator({
        seed: opts.seed,
        fraudRate: opts.fraudRate,
        invalidRate: opts.invalidRate,
        duplicateRate: opts.duplicateRate,
        customers: opts.customers,
        merchants: opts.merchants,
        format: opts.out ? 'json' : format,
      })
      const byIntent: Record<string, number> = {}
      let fraud = 0
      const tally = (r: GeneratedRecord) => {
        byIntent[r.intent.kind] = (byIntent[r.intent.kind] ?? 0) + 1
        if (r.intent.kind === 'valid' && r.intent.isFraud) fraud++
      }
      let destination: string
      if (opts.out) {
        const labelsPath = opts.labelsOut ?? opts.out.replace(/(\.ndjson|\.jsonl|\.json)?$/, '.labels.ndjson')
        const transactions = createWriteStream(opts.out)
        const labels = createWriteStream(labelsPath)
        let written = 0
        while (written < opts.count) {
          const record = generator.next()
          tally(record)
          if (record.topic === 'labels') await write(labels, record.value)
          else {
            await write(transactions, record.value)
            written++
            if (!opts.json && written % 50_000 === 0)
              process.stderr.write(`  ${formatInt(written)} / ${formatInt(opts.count)}\n`)
          }
        }
        for (const label of generator.drainLabels()) {
          tally(label)
          await write(labels, label.value)
        }
        await Promise.all([close(transactions), close(labels)])
        destination = `${opts.out} (labels: ${labelsPath})`
      } else {
        if (config.kafka.brokers.length === 0) {
          throw new FraudstreamError(
            ErrorCode.usage,
            'generate needs --out <file> or Kafka brokers (--brokers or kafka.brokers); for an all-in-one run use `fraudstream demo`',
            'input',
          )
        }
        const sink = await KafkaProducerSink.connect({
          config: {
            'bootstrap.servers': config.kafka.brokers.join(','),
            'client.id': 'fraudstream-generator',
            ...config.kafka.clientProperties,
          },
          log,
        })
        try {
          await publishGenerated({
            generator,
            sink,
            topics: config.kafka.topics,
            count: opts.count,
            rate: opts.rate === 'max' ? 'max' : parseNumber('--rate', 1)(opts.rate),
            onRecord: tally,
          })
        } finally {
          await sink.close()
        }
        destination = `${config.kafka.topics.transactions} and ${config.kafka.topics.labels} on ${config.kafka.brokers.join(',')}`
      }
      const valid = byIntent.valid ?? 0
      const summary = {
        ok: true,
        transactions: opts.count,
        valid,
        invalid: byIntent.invalid ?? 0,
        duplicates: byIntent.duplicate ?? 0,
        labels: byIntent.label ?? 0,
        fraud,
        fraud_rate: valid ? fraud / valid : 0,
        seed: opts.seed,
        elapsed_s: Math.round(performance.now() - started) / 1000,
        destination,
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
      else
        process.stdout.write(
          `generated ${formatInt(summary.transactions)} records (${formatInt(valid)} valid, ${formatInt(summary.invalid)} invalid, ${formatInt(summary.duplicates)} duplicates; fraud ${(summary.fraud_rate * 100).toFixed(2)} %) and ${formatInt(summary.labels)} labels in ${summary.elapsed_s}s → ${destination}\n`,
        )
    })
  })
}

function write(stream: WriteStream, value: Buffer): Promise<void> {
  if (stream.write(Buffer.concat([value, Buffer.from('\n')]))) return Promise.resolve()
  return new Promise((resolve) => stream.once('drain', () => resolve()))
}

function close(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())))
}
