// /api/v1/cache/*: the package cache's part of the JSON API, mounted by api.ts inside the
// API router (so behind the same auth guard as the rest of /api/v1, and with its audit trail).
//   POST /api/v1/cache/warm {"role": "web", "dryRun": true} -> the warm report (cache/warm.ts):
//   per distinct install, which files were (or would be) fetched, with sizes and totals; what
//   did not resolve or failed. 200 whether or not everything resolved ("ok" says).
import express, { type Router } from 'express';
import type { PackageCache } from '../cache/cache.js';
import type { PlanSource } from '../cache/install-set.js';
import { warmRole } from '../cache/warm.js';
import { FleetbootError } from '../errors.js';
import { API_CONTEXT, type ApiContext } from './api.js';

export interface CacheApiDeps {
  cache: PackageCache;
  /** the live config (a ConfigHolder: a reload changes roles and hosts at once) */
  source: PlanSource;
}

export type CacheApi = Router;

export function cacheApi(deps: CacheApiDeps): CacheApi {
  const r = express.Router();
  r.post('/warm', async (req, res) => {
    const ctx = res.locals[API_CONTEXT] as ApiContext; // set by the auth guard in front of the API
    const body = (req.body ?? {}) as Record<string, unknown>;
    const role = typeof body.role === 'string' ? body.role : '';
    if (!role) throw new FleetbootError('FB_BAD_REQUEST', 'name a role: {"role": "web", "dryRun": true}');
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') throw new FleetbootError('FB_BAD_REQUEST', 'dryRun must be true or false');
    if (!deps.source.config.roles[role]) throw new FleetbootError('FB_NOT_FOUND', `unknown role "${role}"`);
    const dryRun = body.dryRun === true;
    let report;
    try {
      report = await warmRole(deps.cache, deps.source, role, { dryRun });
    } catch (e) {
      throw new FleetbootError('FB_UPSTREAM', `cache warm failed: ${(e as Error).message}`);
    }
    const n = report.results.reduce((a, x) => ({ files: a.files + (dryRun ? x.toFetch.count : x.fetched.count), failed: a.failed + x.failed.length }), { files: 0, failed: 0 });
    ctx.audit(dryRun ? 'cache.warm.dry-run' : 'cache.warm', role, `${dryRun ? 'would fetch' : 'fetched'} ${n.files} files, ${n.failed} failed, ok=${report.ok}`);
    res.json({ ...report, by: ctx.actor });
  });
  return r;
}
