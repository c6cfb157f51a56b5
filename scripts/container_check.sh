#!/usr/bin/env bash
# The container check CI runs after the tests: the Dockerfile lints clean, the Compose file is valid
# and refuses to start without its secrets, and, where a container engine runs, the image builds,
# becomes ready, serves offers and stops cleanly on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
COMPOSE=$($BIN/python -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')

echo "hadolint Dockerfile"
$BIN/hadolint Dockerfile

echo "docker compose config (with secrets from the environment)"
POSTGRES_PASSWORD=check NBO_API_KEYS='{"k": ["read"]}' "$COMPOSE" config -q
if "$COMPOSE" config -q 2>/dev/null; then
  echo "docker-compose.yml must refuse to start without POSTGRES_PASSWORD and NBO_API_KEYS" >&2
  exit 1
fi

export CONTAINERS_CONF="$PWD/scripts/containers.conf"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ENGINE=docker
else
  # No Docker engine: podman (Debian's), with a locally made stand-in for the base image.
  if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    if [ "${CI:-}" != "true" ]; then
      echo "image build and run: no docker or podman here; CI installs podman (apt-get install podman debootstrap)"
      exit 0
    fi
    apt-get update -qq
    apt-get install -y -qq podman debootstrap runc uidmap slirp4netns >/dev/null
  fi
  podman image exists docker.io/library/python:3.11-slim || bash scripts/make_base_image.sh
  ENGINE=podman
fi

echo "$ENGINE build and run"
$ENGINE build --pull=never -t nbo:check .
name=nbo-check-$$
$ENGINE run -d --name "$name" -p 127.0.0.1:18000:8000 \
  -e NBO_DATABASE_URL=sqlite:////models/nbo.db -e NBO_SAMPLE_DATA=/opt/nbo/data/online_retail_sample.csv.gz \
  nbo:check demo >/dev/null
trap '$ENGINE rm -f "$name" >/dev/null 2>&1 || true' EXIT
# Ready once it serves the version it trained on the shipped sample at first start.
for _ in $(seq 240); do
  curl -sf http://127.0.0.1:18000/readyz | grep -q '"model":"v' && break
  sleep 1
done
curl -sf http://127.0.0.1:18000/readyz | grep '"model":"v' || { $ENGINE logs "$name" | tail -30; exit 1; }
curl -sf "http://127.0.0.1:18000/v1/customers/17850/offers?limit=3" | grep -q '"strategy":"personalized"'
$ENGINE stop --time 30 "$name" >/dev/null
code=$($ENGINE inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { echo "the container exited with $code on SIGTERM" >&2; exit 1; }
echo "container check passed"
