import { createServer } from 'node:http';

export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
export interface OtlpMetric {
  name: string;
  sum?: { dataPoints: Array<{ attributes: OtlpAttribute[]; asInt?: string | number }> };
  gauge?: { dataPoints: Array<{ attributes: OtlpAttribute[] }> };
  histogram?: { dataPoints: Array<{ attributes: OtlpAttribute[]; count: string | number }> };
}
export interface OtlpRequest {
  resourceMetrics: Array<{ resource: { attributes: OtlpAttribute[] }; scopeMetrics: Array<{ scope: { name: string }; metrics: OtlpMetric[] }> }>;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  links?: Array<{ traceId: string; spanId: string }>;
  events?: Array<{ name: string }>;
  status?: { code?: number };
  /** The exporting process's `service.name`. */
  service: string;
}
interface OtlpTraces {
  resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: Array<Omit<OtlpSpan, 'service'>> }> }>;
}

/**
 * An OTLP/HTTP receiver on loopback: keeps every metrics request's content type and its body when
 * it is OTLP/JSON, and every span (OTLP/JSON, the trace exporter's default) with the service that sent it.
 */
export async function otlpReceiver() {
  const bodies: OtlpRequest[] = [];
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const json = String(req.headers['content-type']).startsWith('application/json');
      if (req.url === '/v1/metrics') {
        contentTypes.add(String(req.headers['content-type']));
        // An SDK set up from the environment alone may send protobuf: counted above, not parsed.
        if (json) bodies.push(JSON.parse(body) as OtlpRequest);
      }
      if (req.url === '/v1/traces') {
        for (const r of (JSON.parse(body) as OtlpTraces).resourceSpans) {
          const service = r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of r.scopeSpans) for (const sp of ss.spans) spans.push({ ...sp, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { bodies, spans, contentTypes, port: (server.address() as { port: number }).port, close: () => server.close() };
}
