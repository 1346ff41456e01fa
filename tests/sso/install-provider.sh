#!/usr/bin/env bash
# Installs the OpenID Connect provider the single sign-on tests run (node-oidc-provider, pinned) into
# .cache/oidc-provider/ of the repository. Run by .ci/run; by hand once before `pytest tests/sso`.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=9.13.3  # keep in step with PROVIDER_VERSION in tests/sso/conftest.py
target=.cache/oidc-provider
if [ -f "$target/node_modules/oidc-provider/package.json" ] \
  && grep -q "\"version\": \"$VERSION\"" "$target/node_modules/oidc-provider/package.json"; then
  echo "oidc-provider $VERSION is installed in $target"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or newer (apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$target"
npm install --prefix "$target" --no-audit --no-fund --loglevel=error --save-exact "oidc-provider@$VERSION"
