// The pure parts of groups: names, public rooms, links, e-mail invitations, the first-load
// redirect to the join wizard. No DOM; unit-tested in model.test.ts.
import type { Route } from '../../router';
import { routePath } from '../../router';

export type RoomScope = 'group' | 'conference';

export const GROUP_NAME_MAX = 200;

export type GroupNameProblem = 'empty' | 'tooLong' | 'invalid';

/** A group name as typed: trimmed, inner white space collapsed; slashes separate path segments. */
export function cleanGroupName(raw: string): string {
  return raw
    .replace(/\s+/g, ' ')
    .split('/')
    .map((s) => s.trim())
    .filter(Boolean)
    .join('/');
}

/** Why the typed name cannot be a group, or null when "Join" may be pressed. */
export function groupNameProblem(raw: string): GroupNameProblem | null {
  const name = cleanGroupName(raw);
  if (!name) return 'empty';
  if (name.length > GROUP_NAME_MAX) return 'tooLong';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f#?\\]/.test(name) || name.split('/').some((s) => s === '.' || s === '..')) return 'invalid';
  return null;
}

/**
 * The group id for a typed name: the "allow public guest access" switch adds the public prefix
 * (`public/` unless the config names another); a name that already carries it is left alone.
 */
export function groupId(raw: string, makePublic: boolean, publicPrefix: string): string {
  const name = cleanGroupName(raw);
  const prefix = publicPrefix.endsWith('/') ? publicPrefix : publicPrefix + '/';
  if (!makePublic || name.startsWith(prefix)) return name;
  return prefix + name;
}

/** The name of a group as shown (the last path segment keeps it short, the prefix is a badge). */
export function groupTitle(id: string, publicPrefix: string): string {
  const prefix = publicPrefix.endsWith('/') ? publicPrefix : publicPrefix + '/';
  return id.startsWith(prefix) ? id.slice(prefix.length) : id;
}

/**
 * The link to share: the join form `https://host/meet/r/join/group/<id>` (spec §4.4: shared links
 * use it), with `#guest=1` for a public room where guests are allowed (the link guests follow).
 */
export function roomLink(origin: string, scope: RoomScope, id: string, guest: boolean): string {
  return origin + routePath({ view: 'join', scope, id }) + (guest ? '#guest=1' : '');
}

/** Basic e-mail sanity check (the manual's "red envelope"): local@domain.tld, no spaces. */
export function isValidEmail(raw: string): boolean {
  const s = raw.trim();
  if (s.length > 254) return false;
  const m = /^([^\s@"(),:;<>[\]\\]+)@([^\s@"(),:;<>[\]\\]+)$/.exec(s);
  if (!m) return false;
  const [, local, domain] = m;
  if (local.length > 64 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  return labels.every((l) => /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u.test(l)) && /^[\p{L}]{2,}$/u.test(labels[labels.length - 1]);
}

/** Splits a recipients field on commas, semicolons and white space. */
export function splitRecipients(raw: string): string[] {
  return raw.split(/[\s,;]+/).filter(Boolean);
}

export interface RecipientsCheck {
  recipients: string[];
  invalid: string[];
}

export function checkRecipients(raw: string): RecipientsCheck {
  const recipients = splitRecipients(raw);
  return { recipients, invalid: recipients.filter((r) => !isValidEmail(r)) };
}

/**
 * A `mailto:` URL (RFC 6068): recipients comma-separated with their characters kept readable,
 * subject and body percent-encoded (spaces as %20, line breaks as %0D%0A). No recipients is
 * allowed: the mail client asks ("power users" press Invite on an empty field).
 */
export function buildMailto(to: readonly string[], subject: string, body: string): string {
  const enc = (s: string) => encodeURIComponent(s.replace(/\r?\n/g, '\r\n'));
  const addr = to.map((a) => encodeURIComponent(a.trim()).replace(/%40/g, '@')).join(',');
  return `mailto:${addr}?subject=${enc(subject)}&body=${enc(body)}`;
}

/**
 * On the first load a direct group link without `auto` opens the join wizard instead
 * (spec kopano-services.md §4.4), keeping query and hash. Returns the URL to replace the current
 * one with, or null.
 */
export function firstLoadRedirect(route: Route, hasAuto: boolean, search: string, hash: string): string | null {
  if (route.view !== 'room' || hasAuto) return null;
  return routePath({ view: 'join', scope: route.scope, id: route.id }) + search + hash;
}
