-- Tiered scoring (infer.tiers): tier is 1 when the cheap first-tier model settled the transaction (model_name names
-- it), 2 when it went on to the lineup (champion, challenger, shadows), and 0 when tiering was off (the lineup scored
-- every transaction). Shadows score tier-2 transactions only, so compare models on `tier != 1` rows.
ALTER TABLE scores
    ADD COLUMN IF NOT EXISTS tier UInt8 DEFAULT 0 AFTER ab_arm;
