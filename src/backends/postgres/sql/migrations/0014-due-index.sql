-- The due index: Backend.unitsWithDue lists the namespaces with a member due (score <= now) in one of
-- the DUE sets (scheduled jobs, recurring jobs). Keyed by set name and score, a range of it holds the
-- due members only, so the call costs what is due, not a read of every namespace.
CREATE INDEX sets_due ON sets (key, score) INCLUDE (ns);
