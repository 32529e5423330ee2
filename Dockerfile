# The btcbot image: the compiled build (dist/, with the prebuilt and replay-checked workflow bundle),
# run by node under tini. Debian-based: Temporal's native core needs glibc (no Alpine/musl build).
#
# Images are pinned by version. To pin by digest as well, look the digest up and append it, e.g.
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim --format '{{json .Manifest.Digest}}'
#   FROM node:20.20.2-bookworm-slim@sha256:<digest>
# and refresh both (version and digest) together when Node 20 gets a patch release.

# --- build: install everything, compile, bundle and check the workflows, then drop dev dependencies
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below; no dependency needs its install script here.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY bin ./bin
COPY src ./src
# The build replays these committed histories against the bundle it made.
COPY test/replay/histories ./test/replay/histories
RUN npm run build && npm prune --omit=dev

# --- runtime: the compiled output and production dependencies only (no sources, no tsx)
FROM node:20.20.2-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN ln -s /app/bin/btcbot.js /usr/local/bin/btcbot
# Safe defaults: nothing trades unless the operator arms all four gates explicitly.
ENV KILL_SWITCH=true DRY_RUN=true LIVE_TRADING=false
# The worker's health endpoint, inside the container only (the HEALTHCHECK below reads it).
ENV BTCBOT_HEALTH_ADDRESS=127.0.0.1:9465
USER node
# 200 while the worker polls, its Temporal server answers and no activity is stuck
# (src/observability/health.ts); 503 while it starts, stops, loses Temporal or is stuck. The start period covers the SYMBOLS check and connecting to Postgres and Temporal.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://' + process.env.BTCBOT_HEALTH_ADDRESS + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1: it passes SIGTERM to node and reaps zombies, so `docker stop` shuts the worker down
# gracefully (give it at least the worker's 30 s shutdown force time: compose stop_grace_period).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/btcbot.js"]
CMD ["worker"]
