// `fleetboot image build ROLE [--force] [--json]`, `image list [ROLE] [--json]`,
// `image rm ROLE ID`: role images (docs/images.md). Builds run in this process (root: they
// run debootstrap) through the daemon's package cache when one answers on this machine, else
// through the cache started in-process on a loopback port.
import type { CommandSpec } from './command.js';

const USAGE = `usage: fleetboot image build ROLE [--force] [--json]
       fleetboot image list [ROLE] [--json]
       fleetboot image rm ROLE ID

  build   build the role's image (installer: image roles) through fleetboot's package cache;
          the same inputs reuse the existing image unless --force. Needs root (debootstrap).
          Progress: a bar on a terminal, plain lines otherwise (stderr). --json prints the
          manifest (stdout). A failure names its step and ends with status 1.
  list    roles with installer: image (or ROLE), their state (none|building|ready|failed)
          and their images, newest first
  rm      remove one image (its file and manifest)

settings: images.keep (images kept per role, default 3), images.zstdLevel,
images.buildTimeoutSeconds, images.repo; paths.images (default var/images)`;

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export const imageCommand: CommandSpec = {
  name: 'image',
  summary: 'build, list and remove role images (installer: image)',
  usage: USAGE,
  options: { force: { type: 'boolean' }, json: { type: 'boolean' } },
  allowPositionals: true,
  needsConfig: true,
  async run(ctx) {
    const [sub, ...args] = ctx.positionals;
    const loaded = ctx.loaded!;
    const json = ctx.values.json === true;
    const imagesDir = loaded.config.paths.images;
    const store = await import('../image/store.js');
    const { roleImageState } = await import('../image/state.js');
    const { imageRoles, roleBuild, RoleError } = await import('../image/request.js');
    const usage = (msg: string) => (console.error(`fleetboot image: ${msg}\n\n${USAGE}`), 2);

    if (sub === 'list') {
      if (args.length > 1) return usage('list takes at most one ROLE');
      if (ctx.values.force) return usage('--force is for build');
      const role = args[0];
      if (role !== undefined && !Object.hasOwn(loaded.config.roles, role)) return (console.error(`unknown role "${role}"`), 2);
      const roles = role ? [role] : imageRoles(loaded);
      const out = roles.map((r) => ({ ...roleImageState(imagesDir, r), images: store.listImages(imagesDir, r) }));
      if (json) return (console.log(JSON.stringify({ roles: out }, null, 2)), 0);
      if (!out.length) console.log('no role has installer: image');
      for (const r of out) {
        const b = r.build;
        const extra = r.state === 'building' && b ? ` (${b.step ?? 'starting'} ${b.percent ?? 0}%)` : r.state === 'failed' && b ? `: ${b.error?.split('\n')[0]}` : '';
        console.log(`${r.role}: ${r.state}${extra}`);
        for (const m of r.images) console.log(`  ${m.id}  ${m.builtAt}  ${mib(m.size)} (raw ${mib(m.rawSize)})  ${m.suite}  kernel ${m.kernelVersion}  ${m.packages.length} packages  built in ${m.buildSeconds} s`);
      }
      return 0;
    }
    if (sub === 'rm') {
      if (args.length !== 2) return usage('rm takes ROLE and ID');
      const [role, id] = args;
      if (!store.isRoleName(role) || !store.isImageId(id)) return usage('ROLE must be a role name and ID 16 hex digits');
      if (!store.removeImage(imagesDir, role, id)) return (console.error(`role ${role} has no image ${id}`), 1);
      if (!json) console.log(`removed ${role}/${id}`);
      else console.log(JSON.stringify({ removed: { role, id } }));
      return 0;
    }
    if (sub === 'build') {
      if (args.length !== 1) return usage('build takes one ROLE');
      const { createLogger } = await import('../log.js');
      const { buildImage } = await import('../image/build.js');
      const { StepError } = await import('../image/proc.js');
      const { progressSink } = await import('../image/progress.js');
      const log = createLogger({ level: process.env.FLEETBOOT_LOG_LEVEL ?? 'warn', destination: 2 }).child({ subsystem: 'image' });
      let req;
      try {
        req = roleBuild(loaded, args[0], log);
      } catch (e) {
        if (e instanceof RoleError) return (console.error(e.message), e.kind === 'config' ? 1 : 2);
        throw e;
      }
      const sink = progressSink(process.stderr);
      const ac = new AbortController();
      // Ctrl-C: stop debootstrap's process group and clean up instead of leaving a half tree
      const stop = () => ac.abort('interrupted');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const r = await buildImage({ ...req, force: ctx.values.force === true, log, onProgress: (p) => sink.update(p), signal: ac.signal });
        sink.end();
        const m = r.manifest;
        if (json) console.log(JSON.stringify({ ...m, reused: r.reused, removed: r.removed }, null, 2));
        else {
          console.log(`${r.reused ? 'reused' : 'built'} ${m.role}/${m.id}: ${store.imagePath(imagesDir, m.role, m.file)}`);
          console.log(`  ${mib(m.size)} compressed, ${mib(m.rawSize)} ext4, sha256 ${m.sha256}`);
          console.log(`  ${m.suite}, kernel ${m.kernelVersion}, ${m.packages.length} packages, built in ${m.buildSeconds} s${r.via ? ` (package cache: ${r.via})` : ''}`);
          if (r.stepSeconds) console.log(`  steps: ${Object.entries(r.stepSeconds).map(([k, v]) => `${k} ${v} s`).join(', ')}`);
          if (r.removed.length) console.log(`  collected old images: ${r.removed.join(', ')}`);
        }
        return 0;
      } catch (e) {
        sink.end();
        if (e instanceof StepError) {
          console.error(e.message);
          return 1;
        }
        throw e;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        log.flush?.();
      }
    }
    return usage(sub ? `unknown sub-command "${sub}"` : 'a sub-command is needed');
  },
};
