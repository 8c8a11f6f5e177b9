// A tiny RPM-format tree for the cache tests, written here (no createrepo_c): two package files,
// primary.xml.gz under its checksum name, repomd.xml listing it, a .treeinfo with the
// checksums of two installer images. The package files are opaque bytes behind an RPM lead:
// no dnf client runs in the tests, the cache only moves and verifies bytes.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const RPM_BASE = '9/BaseOS/x86_64/os';

export interface RpmFile {
  path: string; // relative to the tree base
  size: number;
  sha256: string;
}

export interface RpmRepo {
  /** directory the upstream serves; the tree is at <root>/pub/rocky/<RPM_BASE> */
  root: string;
  rpms: RpmFile[];
  primary: RpmFile;
  images: RpmFile[];
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function buildRpmRepo(root: string): RpmRepo {
  const tree = join(root, 'pub/rocky', RPM_BASE);
  const put = (rel: string, b: Buffer): RpmFile => {
    mkdirSync(dirname(join(tree, rel)), { recursive: true });
    writeFileSync(join(tree, rel), b);
    return { path: rel, size: b.length, sha256: sha(b) };
  };
  const lead = Buffer.from([0xed, 0xab, 0xee, 0xdb, 3, 0]);
  const rpms = [
    put('Packages/h/hello-2.10-1.el9.x86_64.rpm', Buffer.concat([lead, randomBytes(30_000)])),
    put('Packages/b/bash-5.1.8-9.el9.x86_64.rpm', Buffer.concat([lead, randomBytes(50_000)])),
  ];
  const pkg = (f: RpmFile) => {
    const name = /([^/]+)-[^-]+-[^-]+\.x86_64\.rpm$/.exec(f.path)![1];
    return `<package type="rpm">
  <name>${name}</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="1" rel="1.el9"/>
  <checksum type="sha256" pkgid="YES">${f.sha256}</checksum>
  <summary>${name}</summary>
  <size package="${f.size}" installed="${f.size * 3}" archive="${f.size * 3}"/>
  <location href="${f.path}"/>
  <format><rpm:license>GPL</rpm:license></format>
</package>`;
  };
  const xml = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${rpms.length}">
${rpms.map(pkg).join('\n')}
</metadata>
`);
  const gz = gzipSync(xml);
  const primary = put(`repodata/${sha(gz)}-primary.xml.gz`, gz);
  put('repodata/repomd.xml', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="primary">
    <checksum type="sha256">${primary.sha256}</checksum>
    <open-checksum type="sha256">${sha(xml)}</open-checksum>
    <location href="${primary.path}"/>
    <timestamp>1700000000</timestamp>
    <size>${primary.size}</size>
    <open-size>${xml.length}</open-size>
  </data>
</repomd>
`));
  const images = [put('images/install.img', randomBytes(40_000)), put('images/pxeboot/vmlinuz', randomBytes(20_000))];
  put('.treeinfo', Buffer.from(`[header]
type = productmd.treeinfo
version = 1.2

[release]
name = Rocky Linux
short = Rocky
version = 9

[tree]
arch = x86_64

[checksums]
${images.map((i) => `${i.path} = sha256:${i.sha256}`).join('\n')}
`));
  return { root, rpms, primary, images };
}

export function rpmBytes(r: RpmRepo, rel: string): Buffer {
  return readFileSync(join(r.root, 'pub/rocky', RPM_BASE, rel));
}
