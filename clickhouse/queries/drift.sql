-- Question: which model inputs, and the score, are distributed differently now than in a reference window? Per
-- feature, worst first: PSI over bins cut at the reference's quantiles, and the two-sample Kolmogorov–Smirnov
-- distance; status warn at or above {warn}, alert at or above {alert}, on the larger of the two.
-- Parameters (times: ISO-8601 or 'YYYY-MM-DD hh:mm:ss' UTC; windows are [from, to); '' = the default):
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {model:String} = ''                 model_name; '' = the one that decided most as champion in the current window
--   {model_version:String} = ''         '' = the version of that model that decided most there (then: scored most)
--   {current_from:String} = ''          '' = current_to − 1 day
--   {current_to:String} = ''            '' = just after the newest scored event (data time, so replays work too)
--   {reference_from:String} = ''        '' = reference_to − 7 days
--   {reference_to:String} = ''          '' = current_from
--   {bins:UInt16} = 10                  PSI bins: cut at the reference's 1/bins quantiles (deciles)
--   {warn:Float64} = 0.15
--   {alert:Float64} = 0.2
--   {sample_rows:UInt32} = 100000       values kept per feature and window; a larger window is sampled (reservoir)
-- Columns: feature ('score' is the model's output), reference_rows, current_rows, psi, ks, status (ok | warn |
-- alert | no_data), reference_median, current_median.
--
-- Population: one model version's own rows, whatever part it played (champion, challenger or shadow: it scored every
-- transaction it saw, so both windows hold its full input), without fallback rows (no model scored those).
--
-- How it is computed, and why:
-- - A feature's values are its f_ column, nan excluded (a row scored without that feature): the `features` map.
-- - PSI = Σ (q − p)·ln(q / p), p and q the reference's and current window's shares per bin, each at least 1e-4 so
--   an empty bin counts as a large difference instead of an infinite one. Bins are (−∞, c1], (c1, c2], …, (ck, ∞)
--   with c the reference's lower quantiles at 1/bins, 2/bins, …, repeated cuts merged: a discrete or constant feature
--   gets one bin per value the quantiles hit (a 0/1 flag: ≤ 0, (0, 1], > 1), so ties never split across bins.
-- - KS = max over every value v of |F_ref(v) − F_cur(v)|, F(v) the share ≤ v, evaluated only after the last of equal
--   values (exact with ties: a 0/1 flag's KS is the difference of its shares of 1).
-- - Up to sample_rows values per feature and window are kept (all of them below that); PSI and KS are then exact.
WITH
    (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest,
    ifNull(parseDateTime64BestEffortOrNull({current_to:String}, 3, 'UTC'), newest + INTERVAL 1 MILLISECOND) AS cur_to,
    ifNull(parseDateTime64BestEffortOrNull({current_from:String}, 3, 'UTC'), cur_to - INTERVAL 1 DAY) AS cur_from,
    ifNull(parseDateTime64BestEffortOrNull({reference_to:String}, 3, 'UTC'), cur_from) AS ref_to,
    ifNull(parseDateTime64BestEffortOrNull({reference_from:String}, 3, 'UTC'), ref_to - INTERVAL 7 DAY) AS ref_from,
    if({model:String} != '', {model:String},
       (SELECT model_name FROM scores
        WHERE run_id = {run_id:String} AND event_time >= cur_from AND event_time < cur_to
          AND model_role IN ('champion', '')
        GROUP BY model_name ORDER BY count() DESC, model_name LIMIT 1)) AS model,
    if({model_version:String} != '', {model_version:String},
       (SELECT model_version FROM scores
        WHERE run_id = {run_id:String} AND event_time >= cur_from AND event_time < cur_to
          AND model_name = model AND model_role != 'fallback'
        GROUP BY model_version
        ORDER BY countIf(model_role IN ('champion', '')) DESC, count() DESC, model_version DESC LIMIT 1)) AS version
SELECT
    feature,
    reference_rows,
    current_rows,
    round(psi_value, 4) AS psi,
    round(ks_value, 4) AS ks,
    multiIf(nr = 0 OR nc = 0, 'no_data', greatest(psi_value, ks_value) >= {alert:Float64}, 'alert',
            greatest(psi_value, ks_value) >= {warn:Float64}, 'warn', 'ok') AS status,
    round(r[toUInt32(greatest(1, ceil(nr / 2)))], 4) AS reference_median,
    round(c[toUInt32(greatest(1, ceil(nc / 2)))], 4) AS current_median
FROM
(
    SELECT
        feature,
        reference_rows,
        current_rows,
        r,
        c,
        length(r) AS nr,
        length(c) AS nc,
        arrayDistinct(arrayMap(i -> r[toUInt32(greatest(1, ceil(i * nr / {bins:UInt16})))], range(1, {bins:UInt16}))) AS cuts,
        arrayMap((lo, hi) -> greatest(arrayCount(v -> v > lo AND v <= hi, r) / nr, 1e-4),
                 arrayPushFront(cuts, -inf), arrayPushBack(cuts, inf)) AS p,
        arrayMap((lo, hi) -> greatest(arrayCount(v -> v > lo AND v <= hi, c) / nc, 1e-4),
                 arrayPushFront(cuts, -inf), arrayPushBack(cuts, inf)) AS q,
        arraySum(arrayMap((a, b) -> (b - a) * ln(b / a), p, q)) AS psi_value,
        -- Both windows' values in order, 1 for a reference value; ref_le[i] = reference values ≤ values[i].
        arraySort(x -> x.1, arrayConcat(arrayMap(v -> (v, 1), r), arrayMap(v -> (v, 0), c))) AS merged,
        arrayMap(x -> x.1, merged) AS merged_values,
        arrayCumSum(arrayMap(x -> x.2, merged)) AS ref_le,
        -- The CDFs are compared after the last of equal values only: nan never equals the next value.
        arrayPushBack(arrayPopFront(merged_values), nan) AS next_values,
        arrayMax(arrayMap((v, next, i, k) -> if(v = next, 0, abs(k / nr - (i - k) / nc)),
                          merged_values, next_values, arrayEnumerate(merged_values), ref_le)) AS ks_value
    FROM
    (
        SELECT
            kv.1 AS feature,
            countIf(NOT is_current) AS reference_rows,
            countIf(is_current) AS current_rows,
            arraySort(groupArraySampleIf({sample_rows:UInt32}, 1)(kv.2, NOT is_current)) AS r,
            arraySort(groupArraySampleIf({sample_rows:UInt32}, 2)(kv.2, is_current)) AS c
        FROM scores
        ARRAY JOIN arrayConcat([('score', toFloat64(score))], arrayZip(mapKeys(features), mapValues(features))) AS kv
        WHERE run_id = {run_id:String}
          AND model_name = model
          AND model_version = version
          AND model_role != 'fallback'
          -- A row in both windows (they overlap) counts in the current one only.
          AND ((event_time >= ref_from AND event_time < ref_to)
               OR ((event_time >= cur_from AND event_time < cur_to) AS is_current))
        GROUP BY feature
    )
)
ORDER BY status = 'no_data', greatest(psi_value, ks_value) DESC, feature
