-- jobshard_track_unit as in 0015, with the change-tracking triggers filtered by the tracked units.
--
-- Before, while any unit of the schema was tracked (a move copying it), every row written on these
-- tables, by any unit, ran jobshard_track(): a plpgsql call and a lookup in unit_tracking, only to
-- find most of them were not tracked. Four other tenants' enqueue+fetch+ack loops on a schema kept
-- 0.93x of their rate (0.84-1.00 over 12 rounds) while another unit was tracked, for the whole of a
-- move, mover running or not; 0.97x (0.94-1.00) with this migration (`npm run bench:pg-tracking`,
-- bench/RESULTS.md, fourteenth session).
--
-- What changed:
-- * Each table has two triggers instead of one: jobshard_track_write (AFTER INSERT OR UPDATE,
--   testing NEW) and jobshard_track_delete (AFTER DELETE, testing OLD), since a DELETE trigger's
--   WHEN may not name NEW. Their WHEN clause lets only rows whose namespace hashes (hashtext) to a
--   tracked unit's hash call the function; Postgres evaluates it without entering plpgsql. The
--   function still checks unit_tracking itself, so a hash shared with an untracked unit records
--   nothing. The clause holds integers computed here from unit_tracking, never a namespace's text.
-- * Turning a unit off re-creates the triggers for the units still tracked (before, they stayed as
--   they were until the last unit was off), so a finished move stops costing the others at once.
--   The DDL's locks are those of turning tracking on (0013): a 100 ms lock_timeout, and the caller
--   tries again.
-- * 0013's single trigger jobshard_track is dropped wherever it is left.
CREATE OR REPLACE FUNCTION jobshard_track_unit(p_ns text, p_on boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t text;
  v_hashes text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('jobshard-track'), hashtext(current_schema()));
  PERFORM set_config('lock_timeout', '100ms', true);
  IF p_on THEN
    INSERT INTO unit_tracking (ns) VALUES (p_ns) ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM unit_tracking WHERE ns = p_ns;
    DELETE FROM unit_changes WHERE ns = p_ns;
  END IF;
  -- '{h1,h2,...}' of int4 values, or NULL when no unit is tracked.
  SELECT array_agg(DISTINCT hashtext(ns))::text INTO v_hashes FROM unit_tracking;
  FOREACH t IN ARRAY ARRAY['jobs', 'queue_entries', 'hashes', 'sets', 'lists', 'counters', 'locks', 'servers'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS jobshard_track ON %I', t);
    IF v_hashes IS NULL THEN
      EXECUTE format('DROP TRIGGER IF EXISTS jobshard_track_write ON %I', t);
      EXECUTE format('DROP TRIGGER IF EXISTS jobshard_track_delete ON %I', t);
    ELSE
      EXECUTE format('CREATE OR REPLACE TRIGGER jobshard_track_write AFTER INSERT OR UPDATE ON %I FOR EACH ROW'
        ' WHEN (hashtext(NEW.ns) = ANY (%L::int4[])) EXECUTE FUNCTION jobshard_track()', t, v_hashes);
      EXECUTE format('CREATE OR REPLACE TRIGGER jobshard_track_delete AFTER DELETE ON %I FOR EACH ROW'
        ' WHEN (hashtext(OLD.ns) = ANY (%L::int4[])) EXECUTE FUNCTION jobshard_track()', t, v_hashes);
    END IF;
  END LOOP;
END $$;
