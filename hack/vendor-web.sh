#!/usr/bin/env bash
# Copy the App Store page's pinned front-end assets from the npm registry into the package
# (operator/cg_operator/appstore/static/vendor) and axe-core into the browser tests, each with
# its licence. Run after changing a version in hack/versions.env; the result is committed, so
# neither building nor running the page needs npm or the network.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=versions.env
source hack/versions.env
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() {  # package@version -> unpacked folder
  local spec=$1 dir
  dir="$work/$(echo "$spec" | tr '/@' '__')"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
  echo "$dir/package"
}
vendor=operator/cg_operator/appstore/static/vendor
rm -rf "$vendor" && mkdir -p "$vendor"
css=$(fetch "@utrecht/component-library-css@$UTRECHT_CSS_VERSION")
cp "$css/dist/index.css" "$vendor/utrecht-component-library.css"
cp "$css/LICENSE.md" "$vendor/utrecht-component-library.LICENSE.md"
tokens=$(fetch "@nl-design-system-unstable/voorbeeld-design-tokens@$NLDS_VOORBEELD_TOKENS_VERSION")
cp "$tokens/dist/theme.css" "$vendor/voorbeeld-theme.css"
cp "$tokens/LICENSE.md" "$vendor/voorbeeld-theme.LICENSE.md"
htmx=$(fetch "htmx.org@$HTMX_VERSION")
cp "$htmx/dist/htmx.min.js" "$vendor/htmx.min.js"
cp "$htmx/LICENSE" "$vendor/htmx.LICENSE"
axe=$(fetch "axe-core@$AXE_CORE_VERSION")
mkdir -p tests/e2e/vendor
cp "$axe/axe.min.js" tests/e2e/vendor/axe.min.js
cp "$axe/LICENSE" tests/e2e/vendor/axe-core.LICENSE
cat > "$vendor/VERSIONS" <<VERSIONS
@utrecht/component-library-css $UTRECHT_CSS_VERSION (EUPL-1.2)
@nl-design-system-unstable/voorbeeld-design-tokens $NLDS_VOORBEELD_TOKENS_VERSION (EUPL-1.2)
htmx.org $HTMX_VERSION (0BSD)
VERSIONS
echo "[vendor-web] $(ls "$vendor" | tr '\n' ' ')"
