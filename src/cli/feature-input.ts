import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import type { Command } from 'commander'
import { Partitioner } from '../adapters/kafka/partitioner.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { formatInt, parseInteger } from './common.js'

/** The topics' layout a file of records was read from: what `features` and `train --transactions <file>` replay. */
export interface TopicLayoutOptions {
  partitions: number
  labelPartitions: number
  partitioner: Partitioner
}

/** --partitions, --label-partitions and --partitioner, for the commands that compute features from files. */
export function withTopicLayoutOptions(command: Command): Command {
  return command
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
}

/** Parses --partitioner, naming the allowed values when it is not one. */
export function parsePartitioner(value: string): Partitioner {
  if ((Partitioner as readonly string[]).includes(value)) return value as Partitioner
  throw new FraudstreamError(
    ErrorCode.usage,
    `--partitioner must be ${Partitioner.join(' or ')}, got "${value}"`,
    'input',
  )
}

/** Rejects an input option whose file cannot be read, naming the option, as a usage error. */
export async function assertReadable(option: string, path: string): Promise<void> {
  try {
    await access(path, constants.R_OK)
  } catch (err) {
    const reason = (err as { code?: string }).code ?? String(err)
    throw new FraudstreamError(
      ErrorCode.usage,
      `${option} ${path} cannot be read (${reason}): give the path of a readable NDJSON file (.ndjson or .ndjson.gz)`,
      'input',
      false,
      { cause: err },
    )
  }
}

/** "3, 7, 9, … (120 in all)": the first skipped line numbers and how many there were. */
export function firstLines(lineNumbers: readonly number[], total: number): string {
  return `${lineNumbers.join(', ')}${total > lineNumbers.length ? `, … (${formatInt(total)} in all)` : ''}`
}
