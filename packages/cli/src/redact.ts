/**
 * Secrets the command must never print: passwords from store URLs. Every line that goes to stdout or
 * stderr in an error path passes through `redact`, including messages from drivers that echo the URI.
 */
const secrets = new Set<string>();

export const MASK = '***';

/** Remembers the password of `url` (as written and decoded), and returns the URL with it masked. */
export function maskUrl(url: URL): string {
  if (url.password === '') return url.href;
  secrets.add(url.password);
  secrets.add(decodeURIComponent(url.password));
  const masked = new URL(url.href);
  masked.password = MASK;
  return masked.href;
}

export function redact(text: string): string {
  let result = text;
  for (const secret of secrets) if (secret !== '') result = result.split(secret).join(MASK);
  return result;
}
