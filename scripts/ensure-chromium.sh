#!/usr/bin/env bash
# Installs what the browser test needs when it is missing: Debian's chromium + chromium-driver, and
# a CJK font (fonts-noto-cjk) so the Chinese dashboards render as text, not boxes, in screenshots.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then need+=(fonts-noto-cjk); fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "missing Debian packages for the browser test: ${need[*]} (install them as root)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "Installing Debian packages for the browser test: ${need[*]} ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
