import { describe, expect, it } from 'vitest';
import { detectLanguage, duplicateKeys, t } from './index';

describe('i18n', () => {
  it('follows the stored choice, then the browser, then English', () => {
    expect(detectLanguage('de', ['en-US'])).toBe('de');
    expect(detectLanguage(null, ['fr-FR', 'de-AT'])).toBe('de');
    expect(detectLanguage('xx', ['fr'])).toBe('en');
  });
  it('fills placeholders in both languages', () => {
    expect(t('serverUnreachable', { attempt: 2, error: 'HTTP 502' }, 'en')).toBe('Cannot reach the server (attempt 2): HTTP 502. Retrying…');
    expect(t('serverUnreachable', { attempt: 2, error: 'HTTP 502' }, 'de')).toContain('Versuch 2');
  });
  it('no key is defined by two feature files', () => {
    expect(duplicateKeys()).toEqual([]);
  });
});
