# fleetboot in a container. DHCP needs the provisioning LAN's broadcasts, so run it with host
# networking:
#
#   docker build -t fleetboot .
#   docker run --rm --network host \
#     --cap-drop ALL --cap-add NET_BIND_SERVICE --cap-add NET_BROADCAST \
#     -v /etc/fleetboot:/etc/fleetboot:ro -v /var/lib/fleetboot:/var/lib/fleetboot \
#     -e FLEETBOOT_CONFIG=/etc/fleetboot/fleetboot.yaml fleetboot
#
# Capabilities: NET_BIND_SERVICE to bind DHCP :67, proxyDHCP :4011, TFTP :69 and HTTP :80 as
# a non-root user; NET_BROADCAST for DHCP replies to 255.255.255.255 (SO_BROADCAST). Nothing
# else: no NET_ADMIN (we do not configure interfaces) and no NET_RAW (no raw sockets).
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
# ipxe + debian-installer so `fleetboot assets fetch` works offline inside the image
RUN apt-get update && apt-get install -y --no-install-recommends ipxe debian-installer-12-netboot-amd64 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY db ./db
COPY preseed-templates ./preseed-templates
COPY src/web/views ./src/web/views
COPY src/web/static ./src/web/static
RUN mkdir -p /var/lib/fleetboot && chown node:node /var/lib/fleetboot
USER node
ENV NODE_ENV=production
EXPOSE 67/udp 69/udp 4011/udp 80/tcp 5514/udp
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
