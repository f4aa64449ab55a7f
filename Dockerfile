# syntax=docker/dockerfile:1
# Build stage: install everything, type-check and compile to dist/ (npm run build, as CI does).
FROM node:20-bookworm-slim AS build
# swagger-ui-dist depends on @scarf/scarf, whose install script reports to its vendor: off.
ENV SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json knexfile.ts ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and the compiled code only, as an unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=8000
# Node sizes its heap limit from the host's memory and lets garbage pile up towards it; with a
# limit it collects sooner, at no measurable cost in throughput (docs/operations.md). Raise it with
# the container's memory if you must. bench/run.ts and .ci/run read this line, so what they
# measure and check is what the image runs.
# The young generation is capped too: bursts of junk (bodies parsed and refused, errors, log
# lines: short-lived garbage) otherwise grow it and keep it grown, RSS with it, for nothing live
# (docs/reliability.md, bench/junk.ts).
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4"
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/templates ./templates
COPY --from=build /app/static ./static
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Needs DATABASE_URL and DUNDIE_SECURITY__SECRET_KEY; `serve --api` or `--dispatcher` runs one role.
# One thread collects garbage, the one that made it: V8's helper threads cost more CPU than they
# save when the container's few cores already serve requests and PostgreSQL (docs/performance.md).
# With no GC helpers, one V8 background thread is left work enough (compiling hot functions), and
# each thread fewer is a stack and a malloc arena fewer.
# --single-threaded-gc is not allowed in NODE_OPTIONS, so both flags are here; bench/run.ts and
# .ci/run read this line too.
ENTRYPOINT ["node", "--single-threaded-gc", "--v8-pool-size=1", "dist/src/cli.js"]
CMD ["serve"]
