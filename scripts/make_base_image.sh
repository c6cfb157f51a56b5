#!/usr/bin/env bash
# A local stand-in for python:3.11-slim, for machines that can run podman but not pull images:
# Debian bookworm (Python 3.11) made with debootstrap, python and pip on the PATH and installing into
# the system as in the official image, and this machine's CA certificates (its egress may re-sign TLS).
set -euo pipefail
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian
ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
printf '[global]\nbreak-system-packages = true\n' > "$root/etc/pip.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' --change 'CMD ["python3"]' \
  - docker.io/library/python:3.11-slim
