# The job image: no chDB (the optional embedded ClickHouse), a ClickHouse server is configured instead.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# The image's npm 10 predates package.json allowScripts and runs every install script: without this, onnxruntime-node's
# postinstall downloads CUDA libraries from NuGet that a CPU job never loads (its CPU binaries ship in the package).
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --omit=dev --omit=optional

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY topology ./topology
COPY models ./models
COPY clickhouse ./clickhouse
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/fraudstream.js"]
CMD ["run"]
