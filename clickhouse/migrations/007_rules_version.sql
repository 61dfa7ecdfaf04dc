-- Rules and lists change at runtime (`fraudstream rules`, `fraudstream lists`): every deciding row records the
-- version of the rules and lists it was decided with, a content hash the same on every instance ('' for rows written
-- before this column, for shadow rows, and for replays, which run no rules). model_role 'rules' marks a transaction a
-- block/allow list or a pre-model rule decided without inference (score 0).
ALTER TABLE scores
    ADD COLUMN IF NOT EXISTS rules_version LowCardinality(String) DEFAULT '' AFTER rules;
