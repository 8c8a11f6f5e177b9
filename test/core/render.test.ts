// Answer-file templates rendered for a real inventory host: whole expected output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigHolder } from '../../src/config/holder.js';
import { TemplateRenderer, buildContext } from '../../src/install/render.js';
import { makeFixture, REPO } from '../helpers/fixture.js';

const INV = `
roles:
  rocky:
    kernel: rocky-9/vmlinuz
    initrd: rocky-9/initrd.img
    template: rocky-9.ks.cfg
    suite: "9"
    packages: ["@core", openssh-server]
    partitioning: { disk: /dev/sda, dataLabel: data, dataMount: /srv/data }
    vars: { timezone: Europe/Berlin }
  ubuntu:
    kernel: u/vmlinuz
    initrd: u/initrd
    template: ubuntu-24.04.user-data
    packages: [openssh-server]
  extra:
    kernel: x
    initrd: y
    template: rocky-9.ks.cfg
    packages: [htop, openssh-server]
hosts:
  - name: build-01
    macs: ["52:54:00:00:03:01"]
    roles: [rocky, extra]
    vars:
      domain: lab.example
      root_password_hash: "$6$salt$hash"
      ssh_authorized_keys: ["ssh-ed25519 AAAA one@x"]
  - name: ci-01
    macs: ["52:54:00:00:04:01"]
    roles: [ubuntu]
    vars:
      ssh_authorized_keys: ["ssh-ed25519 AAAA one@x", "ssh-rsa BBBB two@y"]
`;

function setup() {
  const fx = makeFixture('', INV);
  fx.write('fleetboot.yaml', `server:\n  address: 10.99.0.1\nhttp:\n  port: 8080\npaths:\n  db: ':memory:'\n  assets: assets\n  templates: ${join(REPO, 'preseed-templates')}\ninventory: inventory.yaml\n`);
  const r = loadConfig({ file: fx.configFile, env: {} });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const holder = new ConfigHolder(r.loaded);
  return { fx, holder, renderer: new TemplateRenderer(join(REPO, 'preseed-templates')) };
}

test('kickstart renders completely for a keep-data host', () => {
  const { fx, holder, renderer } = setup();
  try {
    const rh = holder.index.byName('build-01')!;
    const out = renderer.render(rh.role.template, buildContext(holder, rh, { id: 12, token: 'TOKEN' }));
    const P = 'http://10.99.0.1:8080/i/TOKEN/progress';
    assert.equal(
      out,
      `# fleetboot kickstart for build-01 (role rocky, install run 12)
# Rendered per install run; the URLs below carry this run's token and stop working when it ends.
text
reboot
url --url=http://10.99.0.1:8080/mirror/rocky/9/BaseOS/x86_64/os
repo --name=AppStream --baseurl=http://10.99.0.1:8080/mirror/rocky/9/AppStream/x86_64/os
lang en_US.UTF-8
keyboard us
timezone Europe/Berlin --utc
network --bootproto=dhcp --hostname=build-01.lab.example
rootpw --iscrypted $6$salt$hash
sshkey --username=root "ssh-ed25519 AAAA one@x"
selinux --enforcing
firewall --enabled --ssh
bootloader --location=mbr
# Only the OS partitions are recreated; the partition labelled data is kept.
clearpart --none
part /boot --fstype=xfs --size=1024 --onpart=sda1
part / --fstype=xfs --onpart=sda2
part /srv/data --onpart=LABEL=data --noformat

%packages
@core
openssh-server
htop
%end

%pre
curl -fsS "${P}?stage=early_command&message=kickstart+pre" || true
%end

%post --nochroot
curl -fsS "${P}?stage=late_command&message=kickstart+post" || true
%end

%post
curl -fsS "${P}?stage=done&message=installed" || true
%end
`,
    );
  } finally {
    fx.cleanup();
  }
});

test('autoinstall user-data renders completely', () => {
  const { fx, holder, renderer } = setup();
  try {
    const rh = holder.index.byName('ci-01')!;
    const out = renderer.render(rh.role.template, buildContext(holder, rh, { id: 3, token: 'T0K' }));
    const P = 'http://10.99.0.1:8080/i/T0K/progress';
    assert.equal(
      out,
      `#cloud-config
# fleetboot autoinstall for ci-01 (role ubuntu, install run 3)
autoinstall:
  version: 1
  locale: en_US.UTF-8
  keyboard:
    layout: us
  timezone: UTC
  identity:
    hostname: ci-01
    username: ops
    password: "!"
  ssh:
    install-server: true
    allow-pw: false
    authorized-keys:
      - "ssh-ed25519 AAAA one@x"
      - "ssh-rsa BBBB two@y"
  apt:
    # installers fetch every package through fleetboot's cache
    primary:
      - arches: [default]
        uri: http://10.99.0.1:8080/mirror/ubuntu
  packages:
    - openssh-server
  storage:
    # keep the partition labelled data: only the OS partition is formatted
    config:
      - { type: disk, id: disk0, path: /dev/vda, preserve: true }
      - { type: partition, id: part-os, device: disk0, number: 1, preserve: true }
      - { type: format, id: fmt-os, volume: part-os, fstype: ext4 }
      - { type: mount, id: mnt-os, device: fmt-os, path: / }
      - { type: partition, id: part-data, device: disk0, number: 2, preserve: true }
      - { type: format, id: fmt-data, volume: part-data, fstype: ext4, label: data, preserve: true }
      - { type: mount, id: mnt-data, device: fmt-data, path: /data }
  early-commands:
    - curl -fsS "${P}?stage=early_command" || true
  late-commands:
    - curl -fsS "${P}?stage=late_command" || true
    - curl -fsS "${P}?stage=done&message=installed" || true
`,
    );
  } finally {
    fx.cleanup();
  }
});

test('kernel command lines are rendered with the run token and collapsed to one line', () => {
  const { fx, holder, renderer } = setup();
  try {
    const rh = holder.index.byName('ci-01')!;
    const ctx = buildContext(holder, rh, { id: 3, token: 'T0K' });
    assert.equal(renderer.renderString('a={{ urls.answer }}\n   log={{ syslog.host }}:{{ syslog.port }}  ---', ctx), 'a=http://10.99.0.1:8080/i/T0K/answer log=10.99.0.1:5514 ---');
    assert.deepEqual(ctx.mirror, { host: '10.99.0.1:8080', directory: '/mirror/debian', url: 'http://10.99.0.1:8080/mirror/debian', protocol: 'http' });
  } finally {
    fx.cleanup();
  }
});
