import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/**
 * Traces through @opentelemetry/api only: until the application installs an SDK (a tracer
 * provider, and a propagator for the context to travel), every call here is the API's no-op.
 */
export const TRACER_NAME = 'jobshard';

/** Job parameters holding the trace context of the code that enqueued the job (W3C Trace Context). */
export const TRACEPARENT_PARAM = 'traceparent';
export const TRACESTATE_PARAM = 'tracestate';
/** The first run's span context, kept for the runs of later attempts to link to. */
export const FIRST_RUN_PARAM = 'jobshard.trace.firstRun';

export function tracerFrom(provider?: TracerProvider): Tracer {
  return (provider ?? trace.getTracerProvider()).getTracer(TRACER_NAME);
}

/** The active context's trace headers (empty when no propagator is installed or nothing is traced). */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const out: Record<string, string> = {};
  if (carrier[TRACEPARENT_PARAM]) out[TRACEPARENT_PARAM] = carrier[TRACEPARENT_PARAM];
  if (carrier[TRACESTATE_PARAM]) out[TRACESTATE_PARAM] = carrier[TRACESTATE_PARAM];
  return out;
}

/** The context carried by a job's parameters; ROOT_CONTEXT when none, or a malformed one (the run starts a new trace). */
export function contextOf(parameters: Record<string, string>, name = TRACEPARENT_PARAM): Context {
  const traceparent = parameters[name];
  if (!traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (name === TRACEPARENT_PARAM && parameters[TRACESTATE_PARAM]) carrier[TRACESTATE_PARAM] = parameters[TRACESTATE_PARAM];
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * `send <queue>` (PRODUCER) around an enqueue or a schedule: `write` gets the trace headers to
 * store with the job (the producer span's context) and returns the job id.
 */
export async function producerSpan(
  tracer: Tracer,
  queue: string,
  attributes: Attributes,
  write: (headers: Record<string, string>) => Promise<string>,
): Promise<string> {
  const span = tracer.startSpan(`send ${queue}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'jobshard',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': queue,
      ...attributes,
    },
  });
  const ctx = trace.setSpan(context.active(), span);
  try {
    const id = await context.with(ctx, () => write(traceHeaders(ctx)));
    span.setAttribute('messaging.message.id', id);
    return id;
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

export interface RunSpan {
  span: Span;
  /**
   * The context to run the handler in: its own spans become the consumer span's children. Null
   * when the span has no valid context (no SDK, and no traced parent): nothing would read it, and
   * entering it was a context and a closure a job.
   */
  context: Context | null;
}

/**
 * `process <queue>` (CONSUMER) for one run of a job. Its parent is the context stored at enqueue,
 * so one trace holds the request that enqueued the job, the run and the handler's own spans;
 * a later attempt's run also links to the first run. `attributes` becomes the span's, with the
 * messaging attributes added to it.
 */
export function startRunSpan(tracer: Tracer, queue: string, parameters: Record<string, string>, attributes: Attributes): RunSpan {
  const parent = contextOf(parameters);
  const first = parameters[FIRST_RUN_PARAM] === undefined ? undefined : trace.getSpanContext(contextOf(parameters, FIRST_RUN_PARAM));
  // Added to the caller's object rather than copied into a new one: this runs for every job.
  attributes['messaging.system'] = 'jobshard';
  attributes['messaging.operation.type'] = 'process';
  attributes['messaging.operation.name'] = 'process';
  attributes['messaging.destination.name'] = queue;
  const options: SpanOptions = { kind: SpanKind.CONSUMER, attributes };
  if (first && trace.isSpanContextValid(first)) options.links = [{ context: first, attributes: { 'jobshard.link': 'first_run' } }];
  const span = tracer.startSpan(`process ${queue}`, options, parent);
  // A no-op span (no SDK, no traced parent) carries INVALID_SPAN_CONTEXT itself: known without
  // isSpanContextValid's two regular expressions a run.
  const spanContext = span.spanContext();
  return { span, context: spanContext !== INVALID_SPAN_CONTEXT && trace.isSpanContextValid(spanContext) ? trace.setSpan(parent, span) : null };
}

/** A run span's traceparent, for the later attempts' links (undefined when it is not traced). */
export function runSpanParent(run: RunSpan): string | undefined {
  return run.context ? traceHeaders(run.context)[TRACEPARENT_PARAM] : undefined;
}

export function failed(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  else span.recordException(String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

export function succeeded(span: Span): void {
  span.setStatus({ code: SpanStatusCode.OK });
}
