#!/usr/bin/env node
let cli;
try {
  cli = await import('../dist/src/cli/main.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/src/cli/main.js')) throw e;
  process.stderr.write('avatar: the package is not built yet: run `npm run build` in its folder (releases from npm ship built; a git checkout needs it once)\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
