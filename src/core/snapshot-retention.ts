/**
 * Which snapshots of a partition a store deletes after a save: all but the newest `keep`, except the newest at or
 * below the committed offset, which is the one a restore would load now. A job snapshots up to its in-flight limit
 * ahead of its commits; while a sink is down, commits stop and every one of the newest `keep` can lie above the
 * committed offset, so pruning by count alone would delete the only snapshot a restart could use.
 */
export function snapshotsToDelete(offsets: readonly number[], keep: number, committedOffset: number): number[] {
  const ascending = [...offsets].sort((a, b) => a - b)
  const usable = ascending.filter((offset) => offset <= committedOffset).at(-1)
  return ascending.slice(0, Math.max(0, ascending.length - keep)).filter((offset) => offset !== usable)
}
