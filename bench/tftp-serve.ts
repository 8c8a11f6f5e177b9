// Runs fleetboot's TFTP server alone, for bench/tftp and manual testing against real clients:
//   node dist/bench/tftp-serve.js <root> <address> <port> [maxBlksize] [maxWindowsize]
// Prints "listening <port>" once bound; stops cleanly on SIGTERM/SIGINT.
import { Registry } from 'prom-client';
import { pino, destination } from 'pino';
import { tftpConfigSchema } from '../src/tftp/config.js';
import { TftpServer } from '../src/tftp/server.js';

const [root, address = '127.0.0.1', port = '0', maxBlksize = '65464', maxWindowsize = '64'] = process.argv.slice(2);
if (!root) {
  console.error('usage: tftp-serve.js <root> [address] [port] [maxBlksize] [maxWindowsize]');
  process.exit(2);
}
const registry = new Registry();
const server = new TftpServer({
  config: tftpConfigSchema.parse({ address, port: Number(port), maxBlksize: Number(maxBlksize), maxWindowsize: Number(maxWindowsize) }),
  root,
  // pino directly: createLogger()'s default destination (fd 1 as a number) is not a stream
  log: pino({ level: process.env.FLEETBOOT_LOG_LEVEL ?? 'warn' }, destination(2)),
  registry,
});
await server.start();
console.log(`listening ${server.port}`);
const stop = async () => {
  await server.stop();
  if (process.env.FLEETBOOT_TFTP_METRICS) console.error(await registry.metrics());
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
