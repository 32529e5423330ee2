# The btcbot worker image. Debian-based: Temporal's native core needs glibc (no Alpine/musl build).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
ENV NODE_ENV=production
# Safe defaults: nothing trades unless the operator arms all four gates explicitly.
ENV KILL_SWITCH=true DRY_RUN=true LIVE_TRADING=false
USER node
ENTRYPOINT ["node", "bin/btcbot.js"]
CMD ["worker"]
