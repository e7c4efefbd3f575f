-- jobshard Postgres schema, version 1. Runs with search_path set to the
-- backend's schema. Every table carries `ns`, the namespace (placement unit)
-- a row belongs to; every query filters on it. Text that is ordered or
-- compared uses COLLATE "C" so ordering matches the other backends (bytes).

CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  ns           text COLLATE "C" NOT NULL,
  type         text NOT NULL,
  -- Arguments stay the exact JSON text the client validated: jsonb would reorder keys.
  args         text NOT NULL,
  queue        text COLLATE "C" NOT NULL,
  parameters   jsonb NOT NULL DEFAULT '{}'::jsonb,
  state_name   text COLLATE "C",
  state_reason text,
  state_data   jsonb,
  state_at     timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expire_at    timestamptz
);
CREATE INDEX jobs_by_state ON jobs (ns, state_name, state_at DESC, id DESC);
CREATE INDEX jobs_expire ON jobs (expire_at) WHERE expire_at IS NOT NULL;

CREATE TABLE job_states (
  id         bigserial PRIMARY KEY,
  job_id     bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  name       text NOT NULL,
  reason     text,
  data       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_states_by_job ON job_states (job_id, id);

-- One row per queue entry; seq is the FIFO order and stays with the entry when
-- its lease lapses or it is requeued, so a re-delivered job keeps its place.
CREATE TABLE queue_entries (
  seq         bigserial PRIMARY KEY,
  ns          text COLLATE "C" NOT NULL,
  queue       text COLLATE "C" NOT NULL,
  job_id      bigint NOT NULL,
  token       text,
  lease_until timestamptz,
  deliveries  integer NOT NULL DEFAULT 0
);
CREATE INDEX queue_entries_fetch ON queue_entries (ns, queue, seq);

-- The row outlives its grants so `token` only ever grows: that is the fencing token.
CREATE TABLE locks (
  ns          text COLLATE "C" NOT NULL,
  resource    text COLLATE "C" NOT NULL,
  token       bigint NOT NULL,
  lease_until timestamptz,
  PRIMARY KEY (ns, resource)
);

CREATE TABLE hashes (
  ns        text COLLATE "C" NOT NULL,
  key       text COLLATE "C" NOT NULL,
  field     text COLLATE "C" NOT NULL,
  value     text NOT NULL,
  expire_at timestamptz,
  PRIMARY KEY (ns, key, field)
);
CREATE INDEX hashes_expire ON hashes (expire_at) WHERE expire_at IS NOT NULL;

CREATE TABLE sets (
  ns        text COLLATE "C" NOT NULL,
  key       text COLLATE "C" NOT NULL,
  member    text COLLATE "C" NOT NULL,
  score     double precision NOT NULL,
  expire_at timestamptz,
  PRIMARY KEY (ns, key, member)
);
CREATE INDEX sets_by_score ON sets (ns, key, score, member);
CREATE INDEX sets_expire ON sets (expire_at) WHERE expire_at IS NOT NULL;

-- Newest first = highest id first.
CREATE TABLE lists (
  id        bigserial PRIMARY KEY,
  ns        text COLLATE "C" NOT NULL,
  key       text COLLATE "C" NOT NULL,
  value     text NOT NULL,
  expire_at timestamptz
);
CREATE INDEX lists_by_key ON lists (ns, key, id DESC);
CREATE INDEX lists_expire ON lists (expire_at) WHERE expire_at IS NOT NULL;

CREATE TABLE counters (
  ns        text COLLATE "C" NOT NULL,
  key       text COLLATE "C" NOT NULL,
  value     bigint NOT NULL,
  expire_at timestamptz,
  PRIMARY KEY (ns, key)
);
CREATE INDEX counters_expire ON counters (expire_at) WHERE expire_at IS NOT NULL;

CREATE TABLE servers (
  ns           text COLLATE "C" NOT NULL,
  id           text COLLATE "C" NOT NULL,
  queues       text[] NOT NULL,
  worker_count integer NOT NULL,
  started_at   timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  PRIMARY KEY (ns, id)
);
