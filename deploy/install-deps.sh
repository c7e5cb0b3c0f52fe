#!/bin/sh
# Installs the Debian 12 packages candlepipe needs (deploy/debian-packages.txt).
set -e
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update
# shellcheck disable=SC2046
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $(cat "$(dirname "$0")/debian-packages.txt")
