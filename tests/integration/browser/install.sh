#!/usr/bin/env bash
# Install Debian's Chromium for the browser test when it is missing (as root; about 50 s with
# apt-get update on a fresh machine). Prints the browser's path.
#
#   tests/integration/browser/install.sh
#
# The test drives it with playwright (PyPI, requirements.txt) through executable_path: playwright's
# own browser download is never used.
set -euo pipefail
if ! command -v chromium >/dev/null; then
    echo "installing chromium (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
command -v chromium
