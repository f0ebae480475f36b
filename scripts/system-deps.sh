#!/usr/bin/env bash
# Installs the Debian packages the test-suite needs, idempotently (headless Chromium for the
# dashboard's browser tests). Safe to run again: it installs only what is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v psql >/dev/null 2>&1 || need+=(postgresql)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-server)
fc-list >/dev/null 2>&1 || need+=(fontconfig)
# Fonts for the browser tests and screenshots (workflow names in the corpus are often Chinese).
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
# `docker compose config` needs the compose plugin, which no registry here ships; Debian's
# docker-compose (v1) validates the same file offline.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "system-deps: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
