-- Question: which reason codes drive reviews and declines, and how often?
-- Population: the deciding rows (model_role != 'shadow'): the reviews and declines that were made, not a shadow's.
SELECT decision, arrayJoin(reasons) AS reason, count() AS n
FROM scores
WHERE run_id = 'live' AND model_role != 'shadow' AND decision != 'approve'
GROUP BY decision, reason
ORDER BY decision, n DESC
