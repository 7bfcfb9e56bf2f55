# One image for every role: `avatar serve` (the default command) and `avatar worker`.
#   docker build -t realtime-avatar .
#   docker run -p 8000:8000 -e AVATAR_API_KEYS=a-key-of-16-chars-or-more:acme realtime-avatar
# Without API keys the server binds 127.0.0.1 inside the container (unreachable from outside)
# and says so. ONNX on an NVIDIA GPU: build from an image that has Node 20, CUDA 12 and
# cuDNN 9 (--build-arg NODE_IMAGE=...) with --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# onnxruntime-node's postinstall downloads nothing when "skip" (the CPU provider ships in the package).
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error \
 && if [ "$ONNXRUNTIME_NODE_INSTALL" != skip ]; then npm rebuild onnxruntime-node; fi
COPY . .
RUN npm run --silent build \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM ${NODE_IMAGE}
# Debian's ffmpeg (current demuxers for uploaded media; the npm-bundled build is from 2018).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
# A user of its own with a fixed numeric id (Kubernetes' runAsNonRoot checks the number).
RUN groupadd --gid 10001 avatar \
 && useradd --uid 10001 --gid avatar --no-create-home --home-dir /var/lib/avatar --shell /usr/sbin/nologin avatar \
 && mkdir -p /var/lib/avatar/avatars /var/lib/avatar/data \
 && chown -R avatar:avatar /var/lib/avatar
WORKDIR /app
COPY --from=build /app/package.json /app/LICENSE ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/web ./web
COPY --from=build /app/proto ./proto
COPY --from=build /app/eval ./eval
# The avatars folder (AVATAR_HOME) and the data folder (job outputs, uploads): shared by the
# API processes and the workers. Mount volumes on exactly these paths (a volume on a parent
# folder would leave these two as private anonymous volumes).
ENV NODE_ENV=production \
    AVATAR_HOST=0.0.0.0 \
    AVATAR_PORT=8000 \
    AVATAR_HOME=/var/lib/avatar/avatars \
    AVATAR_DATA_DIR=/var/lib/avatar/data \
    AVATAR_LOG_FORMAT=json
VOLUME ["/var/lib/avatar/avatars", "/var/lib/avatar/data"]
USER 10001:10001
EXPOSE 8000
# /ready answers 503 while draining, without Redis or at the realtime session limit. Workers
# serve no HTTP: their containers turn this check off (compose.yaml, Kubernetes probes).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.AVATAR_PORT || 8000) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/avatar.js"]
CMD ["serve"]
