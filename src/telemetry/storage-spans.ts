import { context, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import type { CallSiteLike, ObservedShard } from './shard-telemetry.js';
import { failed } from './tracing.js';

const DB_SYSTEM: Record<string, string> = { postgres: 'postgresql', redis: 'redis', memory: 'jobshard.memory' };

/**
 * One CLIENT span per storage call on a shard (`telemetry: { storageSpans: true }`), named by the
 * operation (`queues.fetch`, `transaction.commit`…) and carrying the shard: a child of whatever
 * span is active, such as a job's consumer span. Off by default: a job makes several calls.
 */
export function storageSpanInterceptor(shard: ObservedShard, tracer: Tracer) {
  const base = { 'db.system': DB_SYSTEM[shard.kind] ?? shard.kind, 'jobshard.shard.id': shard.id, 'jobshard.backend': shard.kind };
  return async <T>(site: CallSiteLike, call: () => Promise<T>): Promise<T> => {
    const operation = `${site.component}.${site.method}`;
    const span = tracer.startSpan(operation, {
      kind: SpanKind.CLIENT,
      attributes: { ...base, 'db.operation.name': operation, 'db.namespace': site.namespace },
    });
    try {
      return await context.with(trace.setSpan(context.active(), span), call);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}
