#!/bin/sh
# SPDX-License-Identifier: MIT
# autogen.sh: generate configure and Makefile.in from a fresh checkout.
# Nothing generated is committed; run this once before ./configure.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
exec autoreconf --install --force --warnings=all
