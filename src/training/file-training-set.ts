import { computeFeatureFile, type FeatureFileCounts, type FeatureFileOptions } from '../offline/feature-file.js'
import { emptyTally, targetAtCutoff, TrainingSetBuilder, type TrainingSet } from './training-set.js'

const DAY_MS = 24 * 60 * 60 * 1000

/** The files and partitioning as `fraudstream features` takes them, and how rows get their targets. */
export interface FileTrainingSetOptions extends Pick<
  FeatureFileOptions,
  'transactionsPath' | 'labelsPath' | 'features' | 'config' | 'partitions' | 'labelPartitions' | 'partitioner'
> {
  /** A row's target is the latest label reported at or before this time (ms). */
  readonly labelCutoffMs: number
  /** Unlabelled transactions at least this many days older than the cutoff are legitimate; younger ones are left out. */
  readonly labelMaturityDays: number
  readonly onProgress?: (phase: string, lines: number) => void
}

/**
 * The bootstrap training set: a file of transactions through the stream's own feature code (the path `fraudstream
 * features` takes, so the rows are what serving computes), labelled from a file of labels at a cutoff, as
 * targetAtCutoff says. Labels reported after the cutoff still feed the label-based features, which count labels by
 * report time as the stream did; they only do not decide a row's target.
 */
export async function fileTrainingSet(
  options: FileTrainingSetOptions,
): Promise<{ readonly set: TrainingSet; readonly counts: FeatureFileCounts }> {
  const builder = new TrainingSetBuilder()
  const tally = emptyTally()
  const cutoff = { labelCutoffMs: options.labelCutoffMs, maturityMs: options.labelMaturityDays * DAY_MS }
  const { counts } = await computeFeatureFile(
    {
      transactionsPath: options.transactionsPath,
      ...(options.labelsPath ? { labelsPath: options.labelsPath } : {}),
      features: options.features,
      config: options.config,
      partitions: options.partitions,
      labelPartitions: options.labelPartitions,
      partitioner: options.partitioner,
      labelCutoffMs: options.labelCutoffMs,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
    ({ tx, row, label }) => {
      const target = targetAtCutoff(label?.is_fraud, tx.eventTimeMs, cutoff, tally)
      if (target !== undefined) builder.add(row, target, tx)
    },
  )
  const set = builder.finish({
    kind: 'file',
    transactions: options.transactionsPath,
    labels: options.labelsPath ?? null,
    label_cutoff: new Date(options.labelCutoffMs).toISOString(),
    label_maturity_days: options.labelMaturityDays,
    labels_used: tally,
  })
  return { set, counts }
}
