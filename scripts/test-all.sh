#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what npm cannot (Debian's ffmpeg, for ffprobe
# and a current ffmpeg; Debian's chromium for the web page test; docker-compose for the deploy test), the npm dependencies,
# builds, and runs the suite. Debian's python3-grpcio and python3-grpc-tools for the gRPC interop test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
# The web page is tested in a real browser (playwright-core drives Debian's chromium).
[ -x "${AVATAR_CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
# Seed 002's services are tested with a Python grpcio client generated from proto/ (Debian's packages).
"${AVATAR_PYTHON:-/usr/bin/python3}" -c 'import grpc, grpc_tools' >/dev/null 2>&1 || need_apt+=(python3-grpcio python3-grpc-tools)
# The gRPC TLS test makes its certificates with openssl.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The WebRTC session is tested against a peer written with another implementation: aiortc,
# run by Debian's python3 (a python3 earlier on PATH may not see Debian's modules).
"${AVATAR_PYTHON:-/usr/bin/python3}" -c 'import aiortc, av' >/dev/null 2>&1 || need_apt+=(python3-aiortc)
# The queue tests run against a real Redis and start redis-server processes of their own.
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-server)
# The deploy test checks compose.yaml with `docker compose config` or Debian's docker-compose
# (neither needs a running Docker daemon for that). It renders deploy/kubernetes with
# `kubectl kustomize` where kubectl carries kustomize 4 or newer (Debian's kubernetes-client
# carries 2.0, too old), and reports the rendering as skipped elsewhere.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
if [ ${#need_apt[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-all: please install: ${need_apt[*]} (ffmpeg with ffprobe; chromium, or set AVATAR_CHROMIUM; python3-grpcio, python3-grpc-tools and python3-aiortc for /usr/bin/python3, or set AVATAR_PYTHON; redis-server; docker-compose)" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test-all: installing ${need_apt[*]} from Debian packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The shared Redis of the queue tests (REDIS_URL, else 127.0.0.1:6379): started when none answers.
if [ -z "${REDIS_URL:-}" ] && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test-all: starting redis-server on 127.0.0.1:6379"
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

echo "test-all: npm ci"
# onnxruntime-node ships the CPU provider; its postinstall would download the CUDA one (also
# skipped by .npmrc; the variable keeps it so whatever npm does with unknown .npmrc keys).
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "test-all: type checks and lint (floating or misused promises, awaits of non-promises)"
npm run --silent lint
echo "test-all: running tests"
node --test --test-concurrency=1 --test-force-exit dist/test/
echo "test-all: evaluator quick suite (fails on a lip-sync, stillness or accuracy regression)"
node bin/avatar.js eval --suite quick --out "${TMPDIR:-/tmp}/avatar-eval-quick"
