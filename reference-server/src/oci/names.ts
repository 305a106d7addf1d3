/**
 * Repository names and tags, validated against the distribution-spec grammar. A name that passes can be
 * used as a path below the data directory: components are [a-z0-9] separated by ., _, __ or -, so `..`,
 * absolute paths and backslashes cannot occur.
 */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Distribution limits the whole name to 255 characters (spec: hostname + name < 256). */
export const MAX_NAME_LENGTH = 255;

export const isValidName = (name: string): boolean => name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
export const isValidTag = (tag: string): boolean => TAG_RE.test(tag);
