import type { Config } from '../src/config/schema.js'
import type { LabelSink, RecordSink, TopicPartition } from '../src/core/ports.js'
import { describeTopology, topology, type Topology } from '../src/core/topology.js'
import { decodeLabelStage } from '../src/stages/decode/decode-label-stage.js'
import { deadLetterPort } from '../src/stages/sinks/dead-letter.js'
import { labelsSink } from '../src/stages/sinks/labels-sink.js'
import { topicsOf } from './card-fraud.js'

/** The I/O edges of the labels graph: Kafka and ClickHouse in a deployment, memory ports on the test driver. */
export interface LabelsIO {
  /** Dead letters: acknowledged from delivery reports. */
  readonly producer: RecordSink
  readonly labels: LabelSink
  /** The highest source offset of a partition already in `labels` for the run (−1 if none). */
  readonly labelsHighOffset: (tp: TopicPartition) => Promise<number>
}

/** The consumer group of the labels graph: the application's group, suffixed, as Kafka Streams names sub-topologies. */
export function labelsGroupId(config: Pick<Config, 'kafka'>): string {
  return `${config.kafka.groupId}.labels-sink`
}

/**
 * The second sub-topology of the application: the labels topic into the ClickHouse `labels` table, exactly once per
 * label record, for the queries that join labels to scores. It runs as its own job in its own consumer group, so a
 * backlog of labels never delays a decision. Node names differ from card-fraud's, as both share the metric labels.
 */
export function labels(io: LabelsIO, options: { config: Config; runId: string }): Topology {
  const { config } = options
  const topics = topicsOf(config)
  return topology('labels')
    .source('labels', topics.labels, `consumer group ${labelsGroupId(config)}, key = transaction_id`)
    .map(
      'decode-label',
      decodeLabelStage('decode-label', { maxRecordBytes: config.decode.maxRecordBytes }),
      'JSON or msgpack → Label v1 (zod); failures → dead letters with a reason',
    )
    .sink(
      'labels-table',
      labelsSink('labels-table', { sink: io.labels, highOffsetOf: io.labelsHighOffset, runId: options.runId }),
      'one row per label into ClickHouse `labels`, batched across partitions, one dedup token a batch',
    )
    .deadLetters(deadLetterPort('dead-letters', { producer: io.producer, topic: topics.dlq }))
}

/** What the labels job did, from the nodes' counts. */
export interface LabelsStats {
  consumed: number
  invalid: number
  /** Rows ClickHouse acknowledged. */
  rows: number
  /** Labels already in the table (written before a restart), not written again. */
  skipped: number
  stray: number
}

export function labelsStats(
  runner: { consumed: number; count(stage: string, outcome: string): number },
  stray: number,
): LabelsStats {
  return {
    consumed: runner.consumed,
    invalid: runner.count('decode-label', 'dead_letter'),
    rows: runner.count('labels-table', 'rows'),
    skipped: runner.count('labels-table', 'skipped'),
    stray,
  }
}

/** The labels graph a configuration runs, as `describe()` prints it: built with ports that refuse to be used. */
export function describeLabels(config: Config): string {
  const unused = (): never => {
    throw new TypeError('a topology built for describe() does not run')
  }
  const graph = labels(
    {
      producer: { send: unused, flush: unused, close: unused },
      labels: { add: unused, flush: unused, drop: unused },
      labelsHighOffset: unused,
    },
    { config, runId: 'describe' },
  )
  return describeTopology(graph)
}
