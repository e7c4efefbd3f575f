-- Change tracking for online moves. While a unit is being copied to another shard, every row
-- written for it (insert, update, delete) records a ref of what it belongs to in unit_changes;
-- the mover copies those things again. The triggers that record them exist only while some unit
-- of this schema is tracked (postgres-unit-stream.ts creates and drops them), so writes pay
-- nothing when no move runs; while one runs, each row write on this schema makes one lookup.
--
-- Refs (unit-stream.ts ItemRef): j:<job id>, e:<queue>\x1f<seq>, h: z: l: c:<key>, k:<resource>, s:<server id>.

CREATE TABLE unit_tracking (ns text COLLATE "C" PRIMARY KEY);

CREATE TABLE unit_changes (
  ns  text COLLATE "C" NOT NULL,
  ref text COLLATE "C" NOT NULL,
  PRIMARY KEY (ns, ref)
);

CREATE FUNCTION jobshard_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_ns text;
  v_ref text;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  IF TG_TABLE_NAME = 'job_states' THEN
    SELECT ns INTO v_ns FROM jobs WHERE id = r.job_id;
    v_ref := 'j:' || r.job_id;
  ELSE
    -- IF, not CASE: plpgsql resolves every field a CASE names, and each table has only its own.
    v_ns := r.ns;
    IF TG_TABLE_NAME = 'jobs' THEN v_ref := 'j:' || r.id;
    ELSIF TG_TABLE_NAME = 'queue_entries' THEN v_ref := 'e:' || r.queue || chr(31) || r.seq;
    ELSIF TG_TABLE_NAME = 'hashes' THEN v_ref := 'h:' || r.key;
    ELSIF TG_TABLE_NAME = 'sets' THEN v_ref := 'z:' || r.key;
    ELSIF TG_TABLE_NAME = 'lists' THEN v_ref := 'l:' || r.key;
    ELSIF TG_TABLE_NAME = 'counters' THEN v_ref := 'c:' || r.key;
    ELSIF TG_TABLE_NAME = 'locks' THEN v_ref := 'k:' || r.resource;
    ELSE v_ref := 's:' || r.id;
    END IF;
  END IF;
  IF v_ns IS NOT NULL AND EXISTS (SELECT 1 FROM unit_tracking WHERE ns = v_ns) THEN
    INSERT INTO unit_changes (ns, ref) VALUES (v_ns, v_ref) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

-- Turns tracking of a unit on or off, in one transaction. Turning it on (re)creates the triggers:
-- the DDL waits for every transaction writing these tables to finish and holds off new ones until
-- this commits, so no write can slip between "tracking on" and a copy that starts after it.
-- Off for the last tracked unit drops them again. The DDL takes its table locks one table at a
-- time, while writers hold some of these tables and wait for others: that can deadlock, and the
-- deadlock detector (after deadlock_timeout, 1 s by default) may pick a writer as its victim. A
-- short lock_timeout makes this call give up first (SQLSTATE 55P03); the caller retries it.
CREATE FUNCTION jobshard_track_unit(p_ns text, p_on boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('jobshard-track'), hashtext(current_schema()));
  PERFORM set_config('lock_timeout', '100ms', true);
  IF p_on THEN
    INSERT INTO unit_tracking (ns) VALUES (p_ns) ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM unit_tracking WHERE ns = p_ns;
    DELETE FROM unit_changes WHERE ns = p_ns;
  END IF;
  FOREACH t IN ARRAY ARRAY['jobs', 'job_states', 'queue_entries', 'hashes', 'sets', 'lists', 'counters', 'locks', 'servers'] LOOP
    IF p_on THEN
      EXECUTE format('CREATE OR REPLACE TRIGGER jobshard_track AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION jobshard_track()', t);
    ELSIF NOT EXISTS (SELECT 1 FROM unit_tracking) THEN
      EXECUTE format('DROP TRIGGER IF EXISTS jobshard_track ON %I', t);
    END IF;
  END LOOP;
END $$;
