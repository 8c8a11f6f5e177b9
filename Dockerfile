# fleetboot in a container. DHCP needs the provisioning LAN's broadcasts, so run it with host
# networking:
#
#   docker build -t fleetboot .
#   docker run --rm --network host --cap-drop ALL --cap-add NET_BIND_SERVICE \
#     -v /etc/fleetboot:/etc/fleetboot:ro -v /var/lib/fleetboot:/var/lib/fleetboot \
#     -e FLEETBOOT_CONFIG=/etc/fleetboot/fleetboot.yaml fleetboot
#
# Capabilities: only NET_BIND_SERVICE, to bind DHCP :67, proxyDHCP :4011, TFTP :69 and HTTP :80
# as the unprivileged user `node`. Docker gives a non-root user no ambient capabilities, so
# `--cap-add` alone does not reach the process: the node binary carries the capability as a
# file capability (setcap below), which the kernel grants at exec as long as NET_BIND_SERVICE is
# in the container's bounding set. Hence: keep `--cap-add NET_BIND_SERVICE` next to
# `--cap-drop ALL` (without it node refuses to start: EPERM at exec), and do not use
# `--security-opt no-new-privileges` (it disables file capabilities). Not needed: NET_BROADCAST
# (SO_BROADCAST, for DHCP replies to 255.255.255.255, is unprivileged), NET_ADMIN (we configure
# no interfaces), NET_RAW (no raw sockets). Unprivileged ports only (e.g. the demo)? Then
# nothing is needed at all.
#
# Build: sources only (src/; no tests, no benches in the image), then production deps only.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.src.json ./
COPY src ./src
RUN npx tsc -p tsconfig.src.json && rm -f dist/.tsbuildinfo* && npm prune --omit=dev

FROM node:20-bookworm-slim
# ipxe + debian-installer so `fleetboot assets fetch` works offline inside the image;
# libcap2-bin for setcap
RUN apt-get update && apt-get install -y --no-install-recommends ipxe debian-installer-12-netboot-amd64 ca-certificates libcap2-bin \
    && setcap cap_net_bind_service=+ep "$(readlink -f /usr/local/bin/node)" \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY db ./db
COPY preseed-templates ./preseed-templates
COPY src/web/views ./src/web/views
COPY src/web/static ./src/web/static
# Volumes: state (SQLite, TLS, package cache), boot assets, role images. The paths are set
# here through FLEETBOOT_* variables, which win over the config file: mount your volumes at
# these paths (or override a variable with -e). /app/db stays writable for the embedded demo's
# first-start state when no config is given.
ENV NODE_ENV=production \
    FLEETBOOT_PATHS_DB=/var/lib/fleetboot/fleetboot.sqlite \
    FLEETBOOT_WEB_HTTPS_DIR=/var/lib/fleetboot/tls \
    FLEETBOOT_CACHE_DIR=/var/lib/fleetboot/cache \
    FLEETBOOT_PATHS_ASSETS=/srv/fleetboot/assets \
    FLEETBOOT_PATHS_IMAGES=/srv/fleetboot/images
RUN mkdir -p /var/lib/fleetboot /srv/fleetboot/assets /srv/fleetboot/images /app/boot-assets /app/var \
    && chown node:node /var/lib/fleetboot /srv/fleetboot/assets /srv/fleetboot/images /app/db /app/boot-assets /app/var
VOLUME ["/var/lib/fleetboot", "/srv/fleetboot/assets", "/srv/fleetboot/images"]
USER node
EXPOSE 67/udp 69/udp 4011/udp 80/tcp 5514/udp
# `fleetboot health` asks /healthz at the address and port the config gives the daemon
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["node", "dist/src/cli.js", "health", "--timeout", "8"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
