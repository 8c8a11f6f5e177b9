// Renders installer answer files (preseed, kickstart, autoinstall user-data), extra files and
// kernel command lines with nunjucks. Autoescape is off: these are not HTML.
import nunjucks from 'nunjucks';
import type { ResolvedHost } from '../config/holder.js';

export interface RenderContext {
  host: { name: string; address?: string; macs: string[]; roles: string[]; labels: string[] };
  role: { name: string; suite: string; packages: string[]; partitioning: Record<string, unknown>; description?: string };
  run: { id: number; token: string };
  vars: Record<string, unknown>;
  packages: string[];
  urls: { base: string; answer: string; progress: string; files: string; nocloud: string };
  mirror: { host: string; directory: string; url: string; protocol: string };
  syslog: { host: string; port: number };
  server: { address: string };
}

export function buildContext(src: { publicUrl: string; config: { server: { address: string }; syslog: { port: number } } }, rh: ResolvedHost, run: { id: number; token: string }): RenderContext {
  const base = src.publicUrl;
  const cfg = src.config;
  const tokenBase = `${base}/i/${run.token}`;
  const u = new URL(base);
  const mirrorRepo = typeof rh.vars.mirror_repo === 'string' ? rh.vars.mirror_repo : 'debian';
  const directory = `${u.pathname.replace(/\/$/, '')}/mirror/${mirrorRepo}`;
  return {
    host: { name: rh.host.name, address: rh.host.address, macs: rh.host.macs, roles: rh.host.roles, labels: rh.host.labels },
    role: { name: rh.roleName, suite: rh.role.suite, packages: rh.role.packages, partitioning: rh.role.partitioning, description: rh.role.description },
    run,
    vars: rh.vars,
    packages: rh.packages,
    urls: { base, answer: `${tokenBase}/answer`, progress: `${tokenBase}/progress`, files: `${tokenBase}/files`, nocloud: `${tokenBase}/nocloud/` },
    mirror: { host: u.host, directory, url: `${u.protocol}//${u.host}${directory}`, protocol: u.protocol.replace(':', '') },
    syslog: { host: cfg.server.address, port: cfg.syslog.port },
    server: { address: cfg.server.address },
  };
}

export class TemplateRenderer {
  private env: nunjucks.Environment;
  constructor(readonly templatesDir: string) {
    // noCache: templates live in git and change under a running daemon; re-reading a few KB
    // per install run costs nothing
    this.env = new nunjucks.Environment(new nunjucks.FileSystemLoader(templatesDir, { noCache: true }), {
      autoescape: false,
      throwOnUndefined: false,
      trimBlocks: true,
      lstripBlocks: true,
    });
  }

  render(name: string, ctx: RenderContext): string {
    return this.env.render(name, ctx);
  }

  renderString(s: string, ctx: RenderContext): string {
    // command lines are one line: collapse the YAML folding whitespace
    return this.env.renderString(s, ctx).replace(/\s+/g, ' ').trim();
  }
}
