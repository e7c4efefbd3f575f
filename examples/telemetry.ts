// How an application wires OpenTelemetry for jobshard (the library itself only uses @opentelemetry/api).
// Metrics and traces over OTLP/HTTP when the standard OTEL_EXPORTER_OTLP_ENDPOINT is set; a Prometheus
// scrape endpoint for metrics when JOBSHARD_PROMETHEUS_PORT is set. Start it before creating the router.
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

export async function startTelemetry(serviceName: string): Promise<() => Promise<void>> {
  const readers: MetricReader[] = [];
  const otlp = Boolean(process.env['OTEL_EXPORTER_OTLP_ENDPOINT']);
  if (otlp) {
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) itself.
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(),
        exportIntervalMillis: Number(process.env['OTEL_METRIC_EXPORT_INTERVAL'] ?? 10_000),
      }),
    );
  }
  if (process.env['JOBSHARD_PROMETHEUS_PORT']) {
    readers.push(new PrometheusExporter({ host: '127.0.0.1', port: Number(process.env['JOBSHARD_PROMETHEUS_PORT']) }));
  }
  if (readers.length === 0) return async () => {};
  // With a trace exporter, sdk-node also installs the W3C propagator and async context that carry a
  // job's trace from the process that enqueues it to the one that runs it.
  const sdk = new NodeSDK({ serviceName, metricReaders: readers, ...(otlp ? { traceExporter: new OTLPTraceExporter() } : {}), instrumentations: [] });
  sdk.start();
  return () => sdk.shutdown();
}
