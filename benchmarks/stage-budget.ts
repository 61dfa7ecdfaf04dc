import type { RecordHistogram } from '../src/observability/record-histogram.js'

/** One stage or phase of a record's way through the job, from fraudstream_stage_duration_seconds. */
export interface StageBudget {
  readonly stage: string
  readonly records: number
  readonly meanMs: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/** Every stage and phase timed so far, in the order they were first seen (the order records go through them). */
export function stageBudget(histogram: RecordHistogram): StageBudget[] {
  return histogram.labels().map((stage) => {
    const series = histogram.series(stage)
    return {
      stage,
      records: series.count,
      meanMs: series.count > 0 ? (series.sum * 1000) / series.count : 0,
      p50Ms: series.percentileMs(50),
      p99Ms: series.percentileMs(99),
      maxMs: series.maxMs,
    }
  })
}

export function formatStageBudget(stages: readonly StageBudget[]): string[] {
  const ms = (v: number) => v.toFixed(3).padStart(9)
  return [
    `  stage budget     per record: from entering a stage to reaching the next (queue: Kafka timestamp → poll;`,
    `                   <sink>:ack: handed to the sink → acknowledged; commit: commit sent → confirmed), ms`,
    `    ${'stage'.padEnd(18)} ${'records'.padStart(9)} ${'mean'.padStart(9)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}`,
    ...stages.map(
      (s) =>
        `    ${s.stage.padEnd(18)} ${String(s.records).padStart(9)} ${ms(s.meanMs)} ${ms(s.p50Ms)} ${ms(s.p99Ms)} ${ms(s.maxMs)}`,
    ),
  ]
}
