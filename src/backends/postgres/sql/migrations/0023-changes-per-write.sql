-- unit_changes holds a row per change, not a row per ref; jobshard_track restated from 0015 with a
-- plain INSERT instead of INSERT … ON CONFLICT DO NOTHING.
--
-- With one row per ref, a change could be lost to a move's catch-up. A writer whose ref was
-- already recorded (its trigger did nothing, and took no lock) could commit after a take had
-- deleted that row and after the mover had read the item, but before the next take: the mover
-- had the item as it was before the write, and nothing recorded the write any more. Seen in a
-- stress run moving tenants between Postgres and Redis: a job fetched, run and Succeeded on the
-- source arrived Processing on the target, its queue entry gone (the delete's own ref was recorded
-- after the take), and no worker ran it again.
--
-- A row per write has no conflict to decide: a take (DELETE … RETURNING) removes only the rows
-- committed before it began, and a write that commits later is taken by the next round. The
-- reader dedupes the refs (postgres-unit-stream.ts takePostgresChanges).
ALTER TABLE unit_changes DROP CONSTRAINT unit_changes_pkey;
CREATE INDEX unit_changes_ns ON unit_changes (ns);

CREATE OR REPLACE FUNCTION jobshard_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_ns text;
  v_ref text;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  v_ns := r.ns;
  -- IF, not CASE: plpgsql resolves every field a CASE names, and each table has only its own.
  IF TG_TABLE_NAME = 'jobs' THEN v_ref := 'j:' || r.id;
  ELSIF TG_TABLE_NAME = 'queue_entries' THEN v_ref := 'e:' || r.queue || chr(31) || r.seq;
  ELSIF TG_TABLE_NAME = 'hashes' THEN v_ref := 'h:' || r.key;
  ELSIF TG_TABLE_NAME = 'sets' THEN v_ref := 'z:' || r.key;
  ELSIF TG_TABLE_NAME = 'lists' THEN v_ref := 'l:' || r.key;
  ELSIF TG_TABLE_NAME = 'counters' THEN v_ref := 'c:' || r.key;
  ELSIF TG_TABLE_NAME = 'locks' THEN v_ref := 'k:' || r.resource;
  ELSE v_ref := 's:' || r.id;
  END IF;
  IF v_ns IS NOT NULL AND EXISTS (SELECT 1 FROM unit_tracking WHERE ns = v_ns) THEN
    INSERT INTO unit_changes (ns, ref) VALUES (v_ns, v_ref);
  END IF;
  RETURN NULL;
END $$;
