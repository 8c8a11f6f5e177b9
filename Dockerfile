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
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

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
# Writable by the runtime user: /var/lib/fleetboot (production state), and what the embedded
# demo writes under the package: db/ (demo.sqlite next to the root-owned migrations),
# boot-assets/ (assets fetch) and var/ (package cache).
RUN mkdir -p /var/lib/fleetboot /app/boot-assets /app/var \
    && chown node:node /var/lib/fleetboot /app/db /app/boot-assets /app/var
USER node
ENV NODE_ENV=production
EXPOSE 67/udp 69/udp 4011/udp 80/tcp 5514/udp
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
