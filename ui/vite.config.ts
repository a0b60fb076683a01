/**
 * The console's build: Preact through Vite's JSX transform, into dist/ui, served at /ui/.
 * `virtual:privileges` is each operation's x-vpnsvc-privileges, read from openapi.yaml at build
 * time, so the console disables exactly what the contract says a token cannot do.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { parse } from 'yaml';

const spec = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

function privilegesFromSpec(): Plugin {
  const id = 'virtual:privileges';
  return {
    name: 'vpnsvc-privileges',
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(loaded) {
      if (loaded !== `\0${id}`) return undefined;
      this.addWatchFile(spec);
      const doc = parse(readFileSync(spec, 'utf8')) as {
        paths: Record<string, Record<string, { operationId?: string; 'x-vpnsvc-privileges'?: string[] }>>;
      };
      const out: Record<string, string[]> = {};
      for (const item of Object.values(doc.paths)) {
        for (const op of Object.values(item)) if (op.operationId) out[op.operationId] = op['x-vpnsvc-privileges'] ?? [];
      }
      return `export default ${JSON.stringify(out)};`;
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative: the console works under any path a proxy or tunnel puts it at.
  base: './',
  plugins: [privilegesFromSpec()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // One origin, no CDN: everything the console loads is in dist/ui.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
