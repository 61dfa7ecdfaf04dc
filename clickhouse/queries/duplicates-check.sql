-- Question: did any transaction get more than one score row per model and run (should be 0: the sink is idempotent)?
SELECT run_id, model_name, model_version, count() - uniqExact(transaction_id) AS duplicate_rows
FROM scores
GROUP BY run_id, model_name, model_version
