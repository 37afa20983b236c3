#!/usr/bin/env bash
# Builds the palaver .deb from the checkout: the project's own build first (palaverd and the web
# apps, in BUILD_DIR configured with CMAKE_INSTALL_PREFIX=/usr, as ./dev does), then debian/rules
# installs from that build (`cmake --install`) and debhelper makes the package.
# Usage: scripts/package.sh [BUILD_DIR]       (./dev package calls it)
# Environment: PALAVER_DEB_VERSION overrides the version of debian/changelog (tests).
# Output: BUILD_DIR/package/palaver_<version>_<arch>.deb; its path is the last line printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [ "$prefix" != /usr ]; then
  echo "package.sh: $build is configured with CMAKE_INSTALL_PREFIX='$prefix'; the package needs /usr" >&2
  echo "            (the compiled-in paths): cmake -S $root -B $build -DCMAKE_INSTALL_PREFIX=/usr" >&2
  exit 2
fi
for tool in dpkg-buildpackage dh; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (scripts/deps.sh package)" >&2; exit 2; }
done

cmake --build "$build" --target palaverd webui_meet -j "$(nproc)" >/dev/null

# debhelper works in a copy of debian/ under the build dir: the checkout stays clean, and the
# .deb, .buildinfo and .changes land next to it.
out="$build/package"
rm -rf "$out"
mkdir -p "$out/palaver"
cp -a "$root/debian" "$out/palaver/debian"
rm -f "$out/palaver/debian/README.md"
if [ -n "${PALAVER_DEB_VERSION:-}" ]; then
  sed -i "1s/([^)]*)/($PALAVER_DEB_VERSION)/" "$out/palaver/debian/changelog"
fi
version=$(dpkg-parsechangelog -l "$out/palaver/debian/changelog" -S Version)
arch=$(dpkg-architecture -q DEB_HOST_ARCH)

# -d: the build dependencies were the project's (scripts/deps.sh); Node.js may come from elsewhere.
(cd "$out/palaver" &&
  PALAVER_BUILD_DIR="$build" PALAVER_DEB_DIR="$out" \
    dpkg-buildpackage -b -uc -us -d --no-sign >"$out/build.log" 2>&1) || {
  tail -n 40 "$out/build.log" >&2
  echo "package.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
  exit 1
}
deb="$out/palaver_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "package.sh: no $deb" >&2; exit 1; }
echo "$deb"
