#!/bin/sh
# tools/demo.sh - the demo campaign (make demo).
set -eu
exec "$SUPERSWEEP" plan "$1"
