// libuv's thread pool (default 4 threads) runs every fs call, dns.lookup, zlib and the scrypt
// password hashes. Its size is read from UV_THREADPOOL_SIZE once, when the first job is queued,
// so this module is imported first by the CLI entry (src/cli.ts), before anything can touch
// the pool. 8 threads: TFTP reads, HTTP asset reads, the package cache's writes and at most
// web.loginMaxConcurrentHashes (2) hashes at once then never all wait behind each other
// (bench/login-burst.ts measures it). An operator's own setting wins.
export const DEFAULT_THREADPOOL_SIZE = 8;

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(DEFAULT_THREADPOOL_SIZE);
