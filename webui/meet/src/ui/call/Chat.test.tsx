// The call's chat panel against a fake engine: a message leaves the input only once the server
// took it; a failed send keeps the text and says so next to the input (English and German).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import type { CallEngine, EngineState } from '../../call/engine';
import { Chat } from './CallLayer';
import { setLanguage, t } from '../../i18n';

const state = { chat: [] } as unknown as EngineState;

let root: HTMLElement;
beforeEach(() => {
  setLanguage('en');
  root = document.createElement('div');
  document.body.append(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
});

function engine(results: boolean[]) {
  const sent: string[] = [];
  const e = {
    sendChat: async (text: string) => {
      sent.push(text);
      return results.shift() ?? true;
    },
  } as unknown as CallEngine;
  return { e, sent };
}

async function type(text: string) {
  const input = root.querySelector<HTMLInputElement>('[data-testid=chat-input]')!;
  await act(async () => {
    input.value = text;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  return input;
}

async function send() {
  await act(async () => {
    root.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  });
  await act(async () => {
    await Promise.resolve();
  });
}

describe('chat panel', () => {
  it('keeps the text and shows why when a send fails; clears it once sent', async () => {
    const { e, sent } = engine([false, true]);
    await act(async () => render(<Chat engine={e} s={state} onClose={() => {}} />, root));
    const input = await type('Hello everyone');
    await send();
    expect(sent).toEqual(['Hello everyone']);
    expect(input.value).toBe('Hello everyone');
    const err = root.querySelector('[data-testid=chat-error]')!;
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toBe(t('chatFailed', undefined, 'en'));
    expect(input.getAttribute('aria-describedby')).toBe(err.id);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    await send(); // try again
    expect(sent).toEqual(['Hello everyone', 'Hello everyone']);
    expect(input.value).toBe('');
    expect(root.querySelector('[data-testid=chat-error]')).toBeNull();
  });

  it('says it in German too', () => {
    expect(t('chatFailed', undefined, 'de')).toMatch(/konnte nicht gesendet werden/);
    expect(t('chatFailed', undefined, 'de')).not.toBe(t('chatFailed', undefined, 'en'));
  });
});
