#!/bin/sh
# Build the simulator without the top-level Makefile (same flags as CI).
# usage: sim/build.sh [extra CFLAGS...]   e.g. sim/build.sh -fsanitize=address,undefined
set -e
cd "$(dirname "$0")/.."
CF="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror -O2 -g $*"
exec make -f sim/sim.mk CC="${CC:-gcc}" CFLAGS="$CF" LDFLAGS="$*" sim/upbit-sim bench/simload
