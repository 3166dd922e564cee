#!/bin/sh
# The smallest guest test: proves init found and ran a script under busybox sh.
echo "MICROVM-HELLO hello from $(uname -sr) on $(uname -m)"
