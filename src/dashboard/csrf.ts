import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CSRF_COOKIE = 'jobshard_csrf';
export const CSRF_FIELD = '_csrf';

/**
 * Double-submit tokens, signed: the cookie and the form field must carry the same token, and the
 * token must carry this dashboard's signature, so a cookie planted from a sibling subdomain
 * (which cannot be signed without the secret) is refused too. Dashboards behind one load
 * balancer share `secret`.
 */
export class CsrfTokens {
  readonly #secret: Buffer;

  constructor(secret?: string) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  issue(): string {
    const nonce = randomBytes(18).toString('base64url');
    return `${nonce}.${this.#sign(nonce)}`;
  }

  valid(token: string | undefined): token is string {
    if (!token) return false;
    const [nonce, sig, ...rest] = token.split('.');
    if (!nonce || !sig || rest.length) return false;
    return same(sig, this.#sign(nonce));
  }

  /** The request's token when its cookie holds a valid one. */
  fromCookie(req: IncomingMessage): string | undefined {
    const token = cookie(req, CSRF_COOKIE);
    return this.valid(token) ? token : undefined;
  }

  /** A POST passes when its field equals its cookie and both are signed by this dashboard. */
  check(req: IncomingMessage, field: string | undefined): boolean {
    const fromCookie = this.fromCookie(req);
    return fromCookie !== undefined && field !== undefined && same(fromCookie, field);
  }

  #sign(nonce: string): string {
    return createHmac('sha256', this.#secret).update(nonce).digest('base64url');
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
