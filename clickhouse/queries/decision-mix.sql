-- Question: how are decisions split per hour, and how many transactions does each outcome move?
-- Population: what was decided, one row per transaction: the deciding rows (model_role != 'shadow': the champion's,
-- a challenger's for the cards of its A/B arm, or the fallback rules'). A shadow's score decides nothing.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {hours:UInt32} = 48                 the latest hours of event time shown
SELECT
    toStartOfHour(event_time) AS hour,
    count() AS transactions,
    countIf(decision = 'approve') AS approved,
    countIf(decision = 'review') AS reviewed,
    countIf(decision = 'decline') AS declined,
    round(sumIf(amount, decision = 'decline'), 2) AS declined_amount
FROM scores
WHERE run_id = {run_id:String} AND model_role != 'shadow'
GROUP BY hour
ORDER BY hour DESC
LIMIT {hours:UInt32}
