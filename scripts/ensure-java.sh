#!/usr/bin/env bash
# Installs what the Spark engine (pyspark, dbt-spark session mode) needs when it is missing: a Java 17+
# runtime from Debian (openjdk-17-jre-headless). The engine-comparison test runs in `make test`.
set -euo pipefail
java_major() {
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}
if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "missing a Java 17+ runtime for the Spark engine: openjdk-17-jre-headless (install it as root)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "Installing Debian packages for the Spark engine: openjdk-17-jre-headless ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
