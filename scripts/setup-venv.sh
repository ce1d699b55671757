#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs requirements.lock into it, then requirements.nodeps.txt without
# dependencies (the sentence-embedding model's files); does nothing when neither file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ "${1:-}" = "--lock" ]; then
  LOCK_MODE=1; VENV=$(mktemp -d)/venv
fi
stamp="$VENV/.lock.sha256"
want=$(cat requirements.lock requirements.nodeps.txt | sha256sum | cut -d' ' -f1)
if [ -z "${LOCK_MODE:-}" ] && [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

find_python310() {
  local candidate
  for candidate in "${PYTHON310:-}" python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "$root"/versions/3.10.*/bin/python3.10; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

if ! python=$(find_python310); then
  echo "error: Python 3.10 is required (Rasa 3.6 does not run on 3.11+) and none was found." >&2
  echo "Install it, e.g. 'pyenv install 3.10' or Debian/Ubuntu's python3.10 and python3.10-venv packages," >&2
  echo "or point PYTHON310 at a python3.10 executable." >&2
  exit 1
fi

if [ -n "${LOCK_MODE:-}" ]; then
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip==24.0
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.in
  { head -2 requirements.lock; "$VENV/bin/python" -m pip freeze --exclude-editable; } > requirements.lock.new
  mv requirements.lock.new requirements.lock
  echo "requirements.lock re-resolved from requirements.in."
  exit 0
fi

echo "Setting up $VENV with $python ($("$python" --version 2>&1)) ..."
start=$(date +%s)
# A fresh environment every time the lock changes: no stale packages, and an interrupted install is redone.
"$python" -m venv --clear "$VENV"
log=$(mktemp)
if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip==24.0 &&
       "$VENV/bin/python" -m pip install --disable-pip-version-check -r requirements.lock &&
       "$VENV/bin/python" -m pip install --disable-pip-version-check --no-deps --require-hashes \
         -r requirements.nodeps.txt; } >"$log" 2>&1; then
  grep -v "is ignored: it is neither" "$log" | tail -30 >&2
  echo "error: installing requirements.lock or requirements.nodeps.txt failed (full log: $log)" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "Python environment ready in $(( $(date +%s) - start )) s."
