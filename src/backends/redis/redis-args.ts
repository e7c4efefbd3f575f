import type { NewState } from '../../storage/job.js';
import type { WriteOp } from '../../storage/transaction.js';

/**
 * A state as the scripts take it, five values: name, '1' if it has a reason, the reason, its data as
 * JSON, and its history entry up to the value of createdAt, which the script appends with the
 * server's time. Encoded here once: cjson in the script cost more per job than the writes themselves.
 */
export function stateArgs(s: NewState): string[] {
  const data = s.data ?? {};
  const entry = JSON.stringify({ name: s.name, reason: s.reason, data });
  return [s.name, s.reason === undefined ? '' : '1', s.reason ?? '', JSON.stringify(data), `${entry.slice(0, -1)},"createdAt":`];
}

/** A delivery token is "<member>#<lease>": the queue entry's member and its lease counter. */
export function splitToken(token: string): { member: string; lease: string } {
  const at = token.lastIndexOf('#');
  return { member: token.slice(0, at), lease: token.slice(at + 1) };
}

/**
 * Appends a transaction's ops to `out` flat, as commit.lua reads them: each op is a code and its
 * values, numbers as strings (Lua prints numbers with 14 digits, too few for some scores).
 * Flat arguments instead of one JSON document: the script no longer decodes JSON per op.
 */
export function pushOpArgs(ops: readonly WriteOp[], out: string[]): void {
  for (const op of ops) {
    switch (op.op) {
      case 'setJobState':
        out.push('S', op.jobId, ...stateArgs(op.state));
        break;
      case 'addJobState':
        out.push('A', op.jobId, ...stateArgs(op.state));
        break;
      case 'setJobParameter':
        out.push('P', op.jobId, op.name, op.value);
        break;
      case 'expireJob':
        out.push('E', op.jobId, String(op.ms));
        break;
      case 'persistJob':
        out.push('N', op.jobId);
        break;
      case 'enqueue':
        out.push('Q', op.jobId, op.queue);
        break;
      case 'removeFromQueue': {
        const { member, lease } = splitToken(op.token);
        out.push('R', op.queue, member, lease);
        break;
      }
      case 'hashSet': {
        const fields = Object.entries(op.fields);
        out.push('HS', op.key, String(fields.length));
        for (const [f, v] of fields) out.push(f, v);
        break;
      }
      case 'hashDelete':
        out.push('HD', op.key);
        break;
      case 'setAdd':
        out.push('ZA', op.key, String(op.score), op.member);
        break;
      case 'setRemove':
        out.push('ZR', op.key, op.member);
        break;
      case 'setDelete':
        out.push('ZD', op.key);
        break;
      case 'listInsert':
        out.push('LI', op.key, op.value);
        break;
      case 'listRemove':
        out.push('LR', op.key, op.value);
        break;
      case 'listTrim':
        out.push('LT', op.key, String(op.start), String(op.end));
        break;
      case 'listDelete':
        out.push('LD', op.key);
        break;
      case 'counterIncrement':
        out.push('CI', op.key, String(op.by), op.expireInMs === null ? '' : String(op.expireInMs));
        break;
      case 'expire':
        out.push('X', op.kind, op.key, String(op.ms));
        break;
      case 'persist':
        out.push('XP', op.kind, op.key);
        break;
    }
  }
}
