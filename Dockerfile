# syntax=docker/dockerfile:1
# Settle: one image for both roles (SETTLE_ROLE=api|worker|all).
#   docker build -t settle .
#   docker run --env-file .env -p 3000:3000 settle            # api/all, applies migrations first
#   docker run --env-file .env settle node dist/src/main.js   # e.g. a worker, no migrations

# ---- build: install everything, compile TypeScript, then drop dev dependencies
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled code + production dependencies only, as the unprivileged user
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Code stays owned by root (read-only for the app); only the data folder is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js", "--migrate"]
