#!/bin/sh
# make demo: a 13-node network on loopback, two user agents, two real
# softphones (baresip) and an anonymous call between "father" and "mother".
# Usage: scripts/demo.sh PATH/TO/anosip
set -eu
exec python3 "$(dirname "$0")/demo.py" "${1:?usage: scripts/demo.sh PATH/TO/anosip}"
