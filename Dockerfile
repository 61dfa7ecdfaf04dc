# The job image: no chDB (the optional embedded ClickHouse), a ClickHouse server is configured instead.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
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
