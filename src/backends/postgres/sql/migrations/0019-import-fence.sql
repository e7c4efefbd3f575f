-- A move's import fenced by the target's ownership record (unit-stream.ts ImportFence).
--
-- * jobshard_set_ownership as in 0012, with one change: a 'moved' mark never replaces a 'moved'
--   mark of a later epoch (ownership.ts isOlderMark). A mover that stalled and marks its target
--   after a rollback re-marked it leaves the rollback's mark.
-- * jobshard_import_fence (new): the first statement of each import transaction. It takes the
--   unit's shared lock, as jobshard_owns does, so a re-mark (jobshard_set_ownership, exclusive)
--   waits for the batch to commit and every later batch reads the new record; it raises JS003
--   unless the record is the 'moved' mark of the move's epoch.

CREATE OR REPLACE FUNCTION jobshard_set_ownership(p_ns text, p_state text, p_to text, p_epoch bigint, p_until_ms bigint) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('jobshard-own:' || current_schema()), hashtext(p_ns));
  IF p_state = 'moved' AND EXISTS (SELECT 1 FROM unit_ownership WHERE ns = p_ns AND state = 'moved' AND epoch > p_epoch) THEN
    RETURN;
  END IF;
  DELETE FROM unit_ownership WHERE ns = p_ns;
  IF p_state <> 'active' THEN
    INSERT INTO unit_ownership (ns, state, to_shard, epoch, frozen_until)
    VALUES (p_ns, p_state, p_to, p_epoch, to_timestamp(p_until_ms / 1000.0));
  END IF;
END $$;

CREATE FUNCTION jobshard_import_fence(p_ns text, p_epoch bigint) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('jobshard-own:' || current_schema()), hashtext(p_ns));
  IF NOT EXISTS (SELECT 1 FROM unit_ownership WHERE ns = p_ns AND state = 'moved' AND epoch = p_epoch) THEN
    RAISE EXCEPTION USING ERRCODE = 'JS003', MESSAGE = 'the import''s fence no longer holds';
  END IF;
END $$;
