// Credentials never reach a report: Authorization values, token fields and password form fields are masked.

export function redactHeader(name: string, value: string): string {
  const n = name.toLowerCase();
  if (n === 'authorization' || n === 'proxy-authorization') {
    const scheme = value.split(' ')[0] ?? '';
    return `${scheme} <redacted>`;
  }
  if (n === 'cookie' || n === 'set-cookie') return '<redacted>';
  return value;
}

const TOKEN_FIELDS = /("(?:token|access_token|refresh_token|id_token|subject_token|password)"\s*:\s*")[^"]*(")/g;
const FORM_SECRETS = /((?:^|&)(?:password|refresh_token|client_secret|subject_token|actor_token)=)[^&]*/g;

export function redactBody(text: string): string {
  return text.replace(TOKEN_FIELDS, '$1<redacted>$2').replace(FORM_SECRETS, '$1<redacted>');
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    for (const k of ['password', 'refresh_token']) if (u.searchParams.has(k)) u.searchParams.set(k, 'redacted');
    return u.toString();
  } catch {
    return url;
  }
}
