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
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and the compiled code only, as an unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=8000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/templates ./templates
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Needs DATABASE_URL and DUNDIE_SECURITY__SECRET_KEY; `serve --api` or `--dispatcher` runs one role.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
