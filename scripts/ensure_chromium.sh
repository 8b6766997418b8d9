#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the browser tests (tests/test_browser.py).
# Installs it with apt-get when we are root and it is missing; otherwise says loudly
# that the browser tests will be skipped. Never fails the build by itself.
set -u
CHROMIUM="${GENRE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "installing chromium for the browser tests (apt-get) ..."
    if apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; then
        echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null)"
        exit 0
    fi
fi
echo "################################################################################"
echo "# WARNING: no Chromium at $CHROMIUM and it could not be installed here:"
echo "# the browser tests of the notebook widgets will be SKIPPED."
echo "# Install it (sudo apt-get install chromium) or set GENRE_CHROMIUM=/path/to/chromium."
echo "################################################################################"
exit 0
