// Build steps Vite does not have: the service worker's precache list and precompressed siblings.
import type { Plugin } from 'vite';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

// Replaces `self.__PALAVER_PRECACHE__` in sw.js with the list of emitted files and a version
// derived from them, so every build that changes a file yields a new service worker, which the
// app notices ("update available — reload").
export function serviceWorker(): Plugin {
  return {
    name: 'palaver-sw',
    apply: 'build',
    generateBundle(_options, bundle) {
      const sw = bundle['sw.js'];
      if (!sw || sw.type !== 'chunk') this.error('sw.js entry missing from the bundle');
      const files = Object.keys(bundle)
        .filter((f) => f !== 'sw.js' && !f.endsWith('.map') && f !== 'silent-renew.html')
        .sort();
      const version = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16);
      const manifest = JSON.stringify({ version, files });
      const code = (sw as { code: string }).code;
      if (!code.includes('self.__PALAVER_PRECACHE__')) this.error('sw.js lacks self.__PALAVER_PRECACHE__');
      (sw as { code: string }).code = code.replace('self.__PALAVER_PRECACHE__', manifest);
    },
  };
}

const compressible = /\.(js|mjs|css|html|svg|json|webmanifest|txt|ico|wasm)$/;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

// Writes .gz and .br next to every text file over 512 bytes when that saves at least a tenth;
// the web module serves them to clients that accept them.
export function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'palaver-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      for (const file of walk(outDir)) {
        if (!compressible.test(file)) continue;
        const data = readFileSync(file);
        if (data.length < 512) continue;
        const gz = gzipSync(data, { level: 9 });
        const br = brotliCompressSync(data, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
        });
        if (gz.length < data.length * 0.9) writeFileSync(file + '.gz', gz);
        if (br.length < data.length * 0.9) writeFileSync(file + '.br', br);
      }
    },
  };
}
