#!/usr/bin/env bash
# Installs what the widget and its browser tests need, only when missing or changed:
#  - Debian's Chromium at /usr/bin/chromium (the browser tests drive it; no browser is ever downloaded);
#  - the npm packages in package-lock.json (socket.io-client, qrcode-generator, axe-core), with `npm ci`
#    when node_modules is missing or the lock file changed since the last install.
# With --npm-only (what `make run` uses) only the npm packages are installed: serving the widget needs no browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--npm-only" ] && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests ..."
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >/tmp/setup-browser-apt.log 2>&1; then
    tail -20 /tmp/setup-browser-apt.log >&2
    echo "error: could not install chromium (apt-get install chromium); the browser tests will fail without it." >&2
    exit 1
  fi
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is needed for the widget's front-end packages (Debian: apt-get install npm)." >&2
  exit 1
fi
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing the widget's npm packages (npm ci) ..."
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
