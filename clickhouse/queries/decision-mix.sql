-- Question: how are decisions split per hour, and how many transactions does each outcome move?
SELECT
    toStartOfHour(event_time) AS hour,
    count() AS transactions,
    countIf(decision = 'approve') AS approved,
    countIf(decision = 'review') AS reviewed,
    countIf(decision = 'decline') AS declined,
    round(sumIf(amount, decision = 'decline'), 2) AS declined_amount
FROM scores
WHERE run_id = 'live'
GROUP BY hour
ORDER BY hour DESC
LIMIT 48
