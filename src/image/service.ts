// Image builds started by the daemon (API, UI). A build runs in the daemon's process and
// reaches the package cache through the daemon's own HTTP listener on loopback. State is the
// files next to the images (state.ts), so builds from the CLI show up here too.
import type { ConfigHolder } from '../config/holder.js';
import type { Logger } from '../log.js';
import { FleetbootError } from '../errors.js';
import { listImages, removeImage, isImageId, isRoleName, type ImageManifest } from './store.js';
import { roleImageState, type RoleImageState } from './state.js';
import { imageRoles, roleBuild, RoleError } from './request.js';
import { localDaemonBase } from './mirror.js';

export interface ImageRoleView extends RoleImageState {
  images: ImageManifest[];
}

export interface ImageServiceOptions {
  holder: ConfigHolder;
  log: Logger;
}

export class ImageService {
  private running = new Map<string, { ac: AbortController; done: Promise<void> }>();
  private readonly log: Logger;

  constructor(private readonly opts: ImageServiceOptions) {
    this.log = opts.log.child({ subsystem: 'image' });
  }

  private get imagesDir(): string {
    return this.opts.holder.config.paths.images;
  }

  /** Every role with installer: image, with its state and images (newest first). */
  roles(): ImageRoleView[] {
    return imageRoles(this.opts.holder.current).map((r) => this.role(r));
  }

  role(role: string): ImageRoleView {
    const st = roleImageState(this.imagesDir, role);
    // started here but not yet holding the lock (the build task has not run yet): building
    if (this.running.has(role) && st.state !== 'building') Object.assign(st, { state: 'building', build: null });
    return { ...st, images: listImages(this.imagesDir, role) };
  }

  /** Starts a build in the background; throws FB_* errors for unknown roles and running builds. */
  start(role: string, opts: { force?: boolean } = {}): { role: string; state: 'building' } {
    const loaded = this.opts.holder.current;
    let req;
    try {
      req = roleBuild(loaded, role, this.log, localDaemonBase(loaded, this.opts.holder.boundHttpPort));
    } catch (e) {
      if (e instanceof RoleError) throw new FleetbootError(e.kind === 'unknown' ? 'FB_NOT_FOUND' : e.kind === 'not-image' ? 'FB_BAD_REQUEST' : 'FB_CONFLICT', e.message);
      throw e;
    }
    const st = roleImageState(req.imagesDir, role);
    if (this.running.has(role) || st.state === 'building') {
      throw new FleetbootError('FB_CONFLICT', `a build of role "${role}" is already running${st.build ? ` (pid ${st.build.pid})` : ''}`);
    }
    const ac = new AbortController();
    const done = (async () => {
      const { buildImage } = await import('./build.js');
      try {
        const r = await buildImage({ ...req, force: opts.force, log: this.log, signal: ac.signal });
        this.log.info({ role, id: r.manifest.id, reused: r.reused }, r.reused ? 'image reused (same inputs)' : 'image build finished');
      } catch (e) {
        // the build wrote its failure (step + log tail) into the role's status file
        this.log.warn({ role, err: (e as Error).message }, 'image build failed');
      } finally {
        this.running.delete(role);
      }
    })();
    this.running.set(role, { ac, done });
    return { role, state: 'building' };
  }

  remove(role: string, id: string): boolean {
    if (!isRoleName(role) || !isImageId(id)) throw new FleetbootError('FB_BAD_REQUEST', 'role must be a role name and id 16 hex digits');
    return removeImage(this.imagesDir, role, id);
  }

  /** Resolves when the role's build (started here) has ended; for tests and shutdown. */
  async settled(role: string): Promise<void> {
    await this.running.get(role)?.done;
  }

  /** Daemon shutdown: cancels running builds (their children are killed, work dirs removed). */
  async stop(): Promise<void> {
    for (const r of this.running.values()) r.ac.abort('the daemon is stopping');
    await Promise.all([...this.running.values()].map((r) => r.done));
  }
}
