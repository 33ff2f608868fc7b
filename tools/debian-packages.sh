#!/bin/sh
# Install the Debian packages the tests need when a command of theirs is missing:
# chromium (the explorer's browser test) and litecoind (the second ledger).
# Run by `make test`. As root it uses apt-get; otherwise sudo without a password if it can;
# else it stops with one line saying what to install.
set -eu
missing=""
for pair in chromium:chromium litecoind:litecoind; do
    command="${pair%%:*}"
    package="${pair#*:}"
    command -v "$command" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "make test needs:$missing (no apt-get here: install them with your package manager)" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo"
else
    echo "make test needs the Debian packages:$missing (run: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "installing Debian packages:$missing"
DEBIAN_FRONTEND=noninteractive $run apt-get update -qq
DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq $missing >/dev/null
