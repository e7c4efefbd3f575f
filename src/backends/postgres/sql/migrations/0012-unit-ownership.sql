-- Ownership of units (namespaces) for the placement directory: one row per unit this schema has
-- frozen or given away; no row means active. Every write and fetch statement passes
-- jobshard_owns(ns) in its own transaction (postgres-statements.ts), so the check is atomic with
-- the write: the writer holds a shared advisory lock on the unit until it commits, and
-- jobshard_set_ownership takes that lock exclusively, so a freeze returns only after every write
-- begun before it has committed, and every write after it reads the new record.
CREATE TABLE unit_ownership (
  ns text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('frozen', 'moved')),
  to_shard text,
  epoch bigint,
  frozen_until timestamptz
);

-- Returns p_ns, or raises JS001 (moved; message "<epoch> <to shard>") or JS002 (frozen; message
-- "<until, ms since 1970>"). VOLATILE: its SELECT takes a fresh snapshot after the lock is granted,
-- so it sees a freeze that committed while it waited.
CREATE FUNCTION jobshard_owns(p_ns text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r unit_ownership%ROWTYPE;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('jobshard-own:' || current_schema()), hashtext(p_ns));
  SELECT * INTO r FROM unit_ownership WHERE ns = p_ns;
  IF NOT FOUND THEN
    RETURN p_ns;
  END IF;
  IF r.state = 'moved' THEN
    RAISE EXCEPTION USING ERRCODE = 'JS001', MESSAGE = r.epoch::text || ' ' || r.to_shard;
  END IF;
  IF r.frozen_until > clock_timestamp() THEN
    RAISE EXCEPTION USING ERRCODE = 'JS002', MESSAGE = floor(extract(epoch FROM r.frozen_until) * 1000)::bigint::text;
  END IF;
  RETURN p_ns;
END $$;

-- Replaces a unit's record ('active' deletes it) once no write holds the unit's shared lock.
CREATE FUNCTION jobshard_set_ownership(p_ns text, p_state text, p_to text, p_epoch bigint, p_until_ms bigint) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('jobshard-own:' || current_schema()), hashtext(p_ns));
  DELETE FROM unit_ownership WHERE ns = p_ns;
  IF p_state <> 'active' THEN
    INSERT INTO unit_ownership (ns, state, to_shard, epoch, frozen_until)
    VALUES (p_ns, p_state, p_to, p_epoch, to_timestamp(p_until_ms / 1000.0));
  END IF;
END $$;
