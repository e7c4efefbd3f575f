import { InvalidArgumentError, JobNotFoundError } from '../storage/errors.js';
import type { CreateJobInput } from '../storage/job.js';
import type { JsonValue } from '../storage/json.js';
import type { Storage } from '../storage/storage.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../storage/storage-options.js';
import { statsKeys, STATS_DAY_RETENTION_MS, STATS_HOUR_RETENTION_MS } from '../storage/statistics.js';
import { checkInt, checkMs, checkName, serializeArgs } from '../storage/validate.js';
import { nextOccurrence } from './cron.js';
import type { Tracer, TracerProvider } from '@opentelemetry/api';
import { producerSpan, traceHeaders, tracerFrom, TRACEPARENT_PARAM, TRACESTATE_PARAM } from '../telemetry/tracing.js';
import { RECURRING_SET, recurringKey, SCHEDULE_SET, STATE } from './states.js';

/** Options of `new JobClient(storage, options)`. */
export interface JobClientOptions {
  /** Where producer spans go; defaults to the global provider (a no-op until an SDK is installed). */
  tracerProvider?: TracerProvider;
  /** Largest serialized arguments accepted (bytes). Default 512 KiB. */
  maxPayloadBytes?: number;
  /** How long deleted jobs are kept before they expire. Default 1 day. */
  retentionMs?: number;
}

/** A recurring job as `listRecurring()` returns it. */
export interface RecurringJob {
  id: string;
  cron: string;
  type: string;
  args: JsonValue[];
  queue: string;
  tz: string;
  nextRunAt: Date;
  /** The job of the last scheduled occurrence (a triggered run does not count), and when it was due. */
  lastJobId: string | null;
  lastRunAt: Date | null;
}

/** Where a recurring job's runs go, and the time zone of its cron expression. */
export interface RecurringJobOptions {
  queue?: string;
  /** IANA time zone for the cron expression. Default UTC. */
  tz?: string;
}

/**
 * Enqueues and schedules jobs. A job is created without state (it expires by
 * itself if the next step never happens), then one transaction gives it its
 * state and its queue entry (or schedule entry) and makes it permanent.
 */
export class JobClient {
  readonly #storage: Storage;
  readonly #maxPayloadBytes: number;
  readonly #retentionMs: number;
  readonly #tracer: Tracer;

  constructor(storage: Storage, options: JobClientOptions = {}) {
    this.#storage = storage;
    this.#tracer = tracerFrom(options.tracerProvider);
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.#retentionMs = options.retentionMs ?? 86_400_000;
  }

  async #create(type: string, args: unknown[], queue: string, more: Partial<CreateJobInput>): Promise<string> {
    // Checked here against this client's limit, before anything is written.
    serializeArgs(args, this.#maxPayloadBytes);
    const { parameters, ...rest } = more;
    // No trace context (no SDK): no parameters, so an untraced job is written exactly as before.
    const input: CreateJobInput = { type, args: args as JsonValue[], queue: checkName('queue', queue), ...rest };
    if (parameters && Object.keys(parameters).length > 0) input.parameters = parameters;
    return this.#storage.jobs.create(input);
  }

  /**
   * Runs as soon as a worker of `queue` (default 'default') is free. Returns the job id.
   * One write: the job is created Enqueued and in its queue at once.
   */
  async enqueue(type: string, args: unknown[] = [], options: { queue?: string } = {}): Promise<string> {
    const queue = options.queue ?? 'default';
    return this.#send(type, queue, (parameters) =>
      this.#create(type, args, queue, { parameters, state: { name: STATE.enqueued, data: { queue } }, enqueue: true }),
    );
  }

  /** The producer span `send <queue>` around a write that creates one job; the job carries the span's context. */
  #send(type: string, queue: string, write: (parameters: Record<string, string>) => Promise<string>): Promise<string> {
    const where = this.#storage.locate?.(queue);
    return producerSpan(
      this.#tracer,
      queue,
      {
        'jobshard.job.type': type,
        ...(this.#storage.tenant !== undefined ? { 'jobshard.tenant': this.#storage.tenant } : {}),
        ...(where ? { 'jobshard.shard.id': where.shard } : {}),
      },
      write,
    );
  }

  /** Runs no earlier than `at` (or now + delayMs). */
  async schedule(type: string, args: unknown[], when: { delayMs: number } | { at: Date }, options: { queue?: string } = {}): Promise<string> {
    const at = 'at' in when ? when.at.getTime() : Date.now() + checkMs('delayMs', when.delayMs);
    if (!Number.isFinite(at)) throw new InvalidArgumentError('schedule needs { delayMs } or a valid { at: Date }');
    const queue = options.queue ?? 'default';
    return this.#send(type, queue, async (parameters) => {
      // Created expiring, so a job whose schedule entry is never written cleans itself up.
      const id = await this.#create(type, args, queue, { parameters, expireInMs: 30 * 86_400_000 });
      await this.#storage.transaction((tx) => {
        tx.setJobState(id, { name: STATE.scheduled, data: { enqueueAt: String(at), queue } });
        tx.setAdd(SCHEDULE_SET, id, at);
        tx.persistJob(id);
      });
      return id;
    });
  }

  /** Marks the job deleted; a queued copy is skipped when fetched. It expires after the retention. */
  async delete(id: string): Promise<void> {
    const now = new Date();
    const k = statsKeys('deleted', now);
    await this.#storage.transaction((tx) => {
      tx.setJobState(id, { name: STATE.deleted });
      tx.setRemove(SCHEDULE_SET, id);
      tx.expireJob(id, this.#retentionMs);
      tx.counterIncrement(k.total);
      tx.counterIncrement(k.day, 1, { expireInMs: STATS_DAY_RETENTION_MS });
      tx.counterIncrement(k.hour, 1, { expireInMs: STATS_HOUR_RETENTION_MS });
    });
  }

  /** Enqueues the job again (e.g. a failed or deleted one) on its own queue. */
  async requeue(id: string): Promise<void> {
    const job = await this.#storage.jobs.get(id);
    await this.#storage.transaction((tx) => {
      tx.setJobState(id, { name: STATE.enqueued, reason: 'requeued', data: { queue: job.queue } });
      tx.setRemove(SCHEDULE_SET, id);
      tx.enqueue(job.queue, id);
      tx.persistJob(id);
    });
  }

  /**
   * Registers (or updates) a recurring job by id: idempotent, so every
   * service can call it at start-up. An unchanged definition keeps its next
   * occurrence, so restarts neither skip nor repeat one.
   */
  async addRecurring(recurringId: string, cron: string, type: string, args: unknown[] = [], options: RecurringJobOptions = {}): Promise<void> {
    checkName('key', recurringKey(recurringId));
    checkName('jobType', type);
    const queue = checkName('queue', options.queue ?? 'default');
    const argsJson = serializeArgs(args, this.#maxPayloadBytes).json;
    const next = nextOccurrence(cron, Date.now(), options.tz);
    const definition = { cron, type, args: argsJson, queue, tz: options.tz ?? '' };
    const existing = await this.#storage.data.hashGetAll(recurringKey(recurringId));
    const unchanged = existing !== null && Object.entries(definition).every(([k, v]) => existing[k] === v);
    if (unchanged && (await this.#storage.data.setScore(RECURRING_SET, recurringId)) !== null) return;
    // Its occurrences carry the trace context of the code that registered it (none: each run starts a trace).
    const headers = traceHeaders();
    await this.#storage.transaction((tx) => {
      tx.hashSet(recurringKey(recurringId), {
        ...definition,
        [TRACEPARENT_PARAM]: headers[TRACEPARENT_PARAM] ?? '',
        [TRACESTATE_PARAM]: headers[TRACESTATE_PARAM] ?? '',
      });
      tx.setAdd(RECURRING_SET, recurringId, next);
    });
  }

  /**
   * Enqueues one run of a recurring job now, from its definition, leaving its schedule as it is.
   * Returns the job id; JobNotFoundError when no recurring job has that id.
   */
  async triggerRecurring(recurringId: string): Promise<string> {
    checkName('key', recurringKey(recurringId));
    const def = await this.#storage.data.hashGetAll(recurringKey(recurringId));
    if (!def || def['type'] === undefined) throw new JobNotFoundError(`recurring:${recurringId}`);
    const queue = def['queue']!;
    return this.#send(def['type'], queue, (headers) =>
      this.#storage.jobs.create({
        type: def['type']!,
        args: JSON.parse(def['args']!) as JsonValue[],
        queue,
        parameters: { ...headers, recurringJobId: recurringId, triggered: String(Date.now()) },
        state: { name: STATE.enqueued, reason: `recurring job '${recurringId}' triggered`, data: { queue } },
        enqueue: true,
      }),
    );
  }

  /** The recurring jobs with their definitions and next run, ordered by next run (at most `limit`, default 1000). */
  async listRecurring(limit = 1000): Promise<RecurringJob[]> {
    const ids = await this.#storage.data.setRange(RECURRING_SET, 0, checkInt('limit', limit, 1, 10_000) - 1);
    const rows = await Promise.all(
      ids.map(async (id) => {
        const [def, next] = await Promise.all([this.#storage.data.hashGetAll(recurringKey(id)), this.#storage.data.setScore(RECURRING_SET, id)]);
        if (!def || next === null) return null;
        return {
          id,
          cron: def['cron']!,
          type: def['type']!,
          args: JSON.parse(def['args']!) as JsonValue[],
          queue: def['queue']!,
          tz: def['tz'] || 'UTC',
          nextRunAt: new Date(next),
          lastJobId: def['lastJobId'] ?? null,
          lastRunAt: def['lastAt'] ? new Date(Number(def['lastAt'])) : null,
        };
      }),
    );
    return rows.filter((r): r is RecurringJob => r !== null);
  }

  /** Removes a recurring job by id; its runs already enqueued stay. */
  async removeRecurring(recurringId: string): Promise<void> {
    await this.#storage.transaction((tx) => {
      tx.hashDelete(recurringKey(recurringId));
      tx.setRemove(RECURRING_SET, recurringId);
    });
  }
}
