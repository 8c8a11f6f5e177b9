// The embedded demo: what `npm start` runs with when no --config / FLEETBOOT_CONFIG is given.
// Safe on any machine: DHCP is off (a stray DHCP server on an office LAN is an outage), TFTP
// and syslog listen on unprivileged ports, HTTP on 8080, state in db/demo.sqlite.
export const DEMO_NAME = '<demo>';

export const DEMO_CONFIG_YAML = `
server:
  address: 127.0.0.1
http:
  listen: 127.0.0.1
  port: 8080
paths:
  db: db/demo.sqlite
  assets: boot-assets
  templates: preseed-templates
tftp:
  enabled: true
  address: 127.0.0.1
  port: 6969
dhcp:
  enabled: false
cache:
  enabled: true
  dir: var/cache
  # one upstream per /mirror/<name> the answer files use: d-i (debian), subiquity (ubuntu),
  # anaconda (rocky, an RPM tree)
  repos:
    - { name: debian, url: "http://deb.debian.org/debian" }
    - { name: ubuntu, url: "http://archive.ubuntu.com/ubuntu" }
    - { name: rocky, url: "http://dl.rockylinux.org/pub/rocky", format: rpm }
syslog:
  listen: 127.0.0.1
  port: 5514
roles:
  debian-12:
    description: Debian 12 (bookworm) from the netboot installer, data partition kept
    kernel: debian-12/linux
    initrd: debian-12/initrd.gz
    cmdline: >-
      auto=true priority=critical url={{ urls.answer }} interface=auto
      netcfg/dhcp_timeout=60 log_host={{ syslog.host }} log_port={{ syslog.port }}
      console=ttyS0,115200 ---
    template: debian-12.preseed.cfg
    suite: bookworm
    packages: [openssh-server, curl]
    requireUp: true
    vars:
      domain: demo.lan
      timezone: UTC
  ubuntu-24-04:
    description: Ubuntu 24.04 via subiquity autoinstall (nocloud over HTTP)
    kernel: ubuntu-24.04/vmlinuz
    initrd: ubuntu-24.04/initrd
    cmdline: >-
      ip=dhcp autoinstall ds=nocloud-net;s={{ urls.base }}/i/{{ run.token }}/nocloud/
      console=ttyS0,115200 ---
    template: ubuntu-24.04.user-data
    suite: noble
    packages: [openssh-server]
  rocky-9:
    description: Rocky Linux 9 via kickstart
    kernel: rocky-9/vmlinuz
    initrd: rocky-9/initrd.img
    cmdline: inst.ks={{ urls.answer }} inst.text console=ttyS0,115200
    template: rocky-9.ks.cfg
    suite: "9"
    packages: ["@core", openssh-server]
  debian-12-image:
    description: Debian 12 (bookworm) written from a prebuilt role image by fleetboot's own installer (docs/images.md)
    installer: image
    suite: bookworm
    packages: [openssh-server]
    requireUp: true
  web:
    description: extra packages for web servers (an add-on role, listed after the install role)
    packages: [nginx]
hosts:
  - name: web-01
    macs: ["52:54:00:00:01:01"]
    roles: [debian-12, web]
    address: 10.99.0.21
    labels: [rack-a]
  - name: web-02
    macs: ["52:54:00:00:01:02"]
    roles: [debian-12, web]
    address: 10.99.0.22
    labels: [rack-a]
  - name: db-01
    macs: ["52:54:00:00:02:01", "52:54:00:00:02:02"]
    roles: [debian-12]
    address: 10.99.0.31
    labels: [rack-b]
  - name: build-01
    macs: ["52:54:00:00:03:01"]
    roles: [rocky-9]
    address: 10.99.0.41
  - name: ci-01
    macs: ["52:54:00:00:04:01"]
    roles: [ubuntu-24-04]
    address: 10.99.0.51
`;
