-- Question: was every scored transaction decided exactly once, and scored at most once by each model? Every number
-- should be 0: the sink writes each offset's rows once (dedup tokens), one deciding row and a row per other model.
-- Lines per run: scope 'decisions' checks the deciding rows (model_role != 'shadow': champion, challenger or
-- fallback): duplicate_rows are deciding rows beyond one per transaction (a transaction decided twice, by one model or
-- two), undecided the transactions with scores but no deciding row. Scope 'model' checks one model version's own
-- rows, whatever their role: duplicate_rows beyond one per transaction (undecided is 0 there; fallback rows are the
-- rules', checked under decisions).
-- Columns: run_id, scope (decisions | model), model_name, model_version ('' on the decisions line), duplicate_rows,
-- undecided.
SELECT run_id, scope, model_name, model_version, duplicate_rows, undecided
FROM
(
    SELECT
        run_id,
        'decisions' AS scope,
        '' AS model_name,
        '' AS model_version,
        countIf(model_role != 'shadow') - uniqExactIf(transaction_id, model_role != 'shadow') AS duplicate_rows,
        uniqExact(transaction_id) - uniqExactIf(transaction_id, model_role != 'shadow') AS undecided
    FROM scores
    GROUP BY run_id
    UNION ALL
    SELECT run_id, 'model', model_name, model_version, count() - uniqExact(transaction_id), 0
    FROM scores
    WHERE model_role != 'fallback'
    GROUP BY run_id, model_name, model_version
)
ORDER BY run_id, scope, model_name, model_version
