// Package cache public surface: the daemon mounts createMirrorRouter(cache) at /mirror and
// exposes cache.stats() on the API.
export { PackageCache, type PackageCacheOptions, type OpenResult } from './cache.js';
export { createMirrorRouter } from './router.js';
export { cacheConfigSchema, type CacheConfig } from './config.js';
export { warmRole, warmPlan, type WarmOptions, type WarmResult, type WarmReport } from './warm.js';
