export type Lang = 'en' | 'de';
/** A feature's messages: German must have exactly the English keys. */
export type Bilingual<E extends Record<string, string>> = { en: E; de: { [K in keyof E]: string } };
