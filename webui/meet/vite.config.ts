/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceWorker, precompress } from './build/plugins';

const here = dirname(fileURLToPath(import.meta.url));

// The output goes to the build tree (CMake passes PALAVER_MEET_OUT); palaverd's `web` module
// serves it at /meet/ with long cache lifetimes for the hashed files under assets/.
const outDir = process.env.PALAVER_MEET_OUT || resolve(here, '../../build/webui/meet');

export default defineConfig({
  base: '/meet/',
  publicDir: 'public',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 2048,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        main: resolve(here, 'index.html'),
        'silent-renew': resolve(here, 'silent-renew.html'),
        'guest-callback': resolve(here, 'guest-callback.html'),
        sw: resolve(here, 'src/sw.ts'),
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  plugins: [serviceWorker(), precompress()],
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
