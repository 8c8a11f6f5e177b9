#!/usr/bin/env node
// fleetboot CLI. Global: --config FILE (or FLEETBOOT_CONFIG); without one, the embedded demo.
// first: sizes libuv's thread pool before anything uses it
import './threadpool.js';
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err) => {
    console.error(`fleetboot: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
