-- Question: which reason codes drive reviews and declines, and how often?
SELECT decision, arrayJoin(reasons) AS reason, count() AS n
FROM scores
WHERE run_id = 'live' AND decision != 'approve'
GROUP BY decision, reason
ORDER BY decision, n DESC
