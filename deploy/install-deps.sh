#!/bin/sh
# Installs the Debian 12 packages candlepipe needs (deploy/debian-packages.txt).
set -e
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update
# shellcheck disable=SC2046
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $(cat "$(dirname "$0")/debian-packages.txt")
# The web page's chart library (lightweight-charts, pinned by
# serve/www/package-lock.json) from the npm registry, served by cp-serve from
# serve/www/node_modules: no CDN. Without it the page still shows the coverage
# map and the progress, and says the chart is missing.
command -v npm >/dev/null 2>&1 ||
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y nodejs npm
(cd "$(dirname "$0")/../serve/www" && npm ci --no-audit --no-fund) ||
	echo "install-deps: npm ci in serve/www failed: the web page will have no chart" >&2
