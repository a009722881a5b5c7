#!/usr/bin/env bash
# Builds dist/sayso_<version>_amd64.deb from the PyInstaller one-folder bundle.
#
#   packaging/linux/build-deb.sh [BUNDLE_DIR]
#
# BUNDLE_DIR defaults to dist/sayso; when it does not exist the bundle is built first with
# `.venv/bin/pyinstaller packaging/pyinstaller/sayso.spec` (set PYINSTALLER to use another one).
# SAYSO_DEB_COMPRESSION: xz (default, ~30 % smaller, ~45 s) or gzip (~4x faster to build, for tests).
# SAYSO_DIST: where the bundle and the .deb go (default dist/); SAYSO_BUILD: scratch space (default build/).
# Prints the path of the .deb on its last line.
#
# Layout: /opt/sayso (the bundle), /usr/bin/sayso (symlink), the desktop entry, the AppStream metainfo,
# hicolor icons (PNG sizes + scalable SVG) and /usr/share/doc/sayso/copyright.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/packaging/linux"
dist="${SAYSO_DIST:-$repo/dist}"
bundle="${1:-$dist/sayso}"
compression="${SAYSO_DEB_COMPRESSION:-xz}"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python=python3

die() { echo "build-deb: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
case "$compression" in xz|gzip|zstd|none) ;; *) die "SAYSO_DEB_COMPRESSION must be xz, gzip, zstd or none" ;; esac

build="${SAYSO_BUILD:-$repo/build}"
export SAYSO_BUILD="$build"  # the spec renders its templates there too
rendered="$build/packaging"
version="$("$python" "$repo/packaging/render.py" "$rendered" | tail -n 1)"

if [[ ! -x "$bundle/sayso" ]]; then
    echo "build-deb: building the bundle into $dist/sayso" >&2
    "${PYINSTALLER:-$repo/.venv/bin/pyinstaller}" --noconfirm --clean --log-level WARN \
        --distpath "$dist" --workpath "$build/pyinstaller" "$repo/packaging/pyinstaller/sayso.spec" >&2
    bundle="$dist/sayso"
fi
[[ -x "$bundle/sayso" ]] || die "no executable $bundle/sayso"

root="$(mktemp -d "${TMPDIR:-/tmp}/sayso-deb.XXXXXX")"
trap 'rm -rf "$root"' EXIT

install -d "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
    "$root/usr/share/metainfo" "$root/usr/share/doc/sayso"
cp -a "$bundle" "$root/opt/sayso"
ln -s /opt/sayso/sayso "$root/usr/bin/sayso"
install -m 644 "$here/sayso.desktop" "$root/usr/share/applications/sayso.desktop"
install -m 644 "$rendered/linux/io.github.sayso.Sayso.metainfo.xml" "$root/usr/share/metainfo/"
install -m 644 "$here/copyright" "$root/usr/share/doc/sayso/copyright"
for png in "$repo"/resources/icons/png/sayso-[0-9]*.png; do
    size="${png##*/sayso-}"; size="${size%.png}"
    install -D -m 644 "$png" "$root/usr/share/icons/hicolor/${size}x${size}/apps/sayso.png"
done
install -D -m 644 "$repo/resources/icons/sayso.svg" "$root/usr/share/icons/hicolor/scalable/apps/sayso.svg"

# Files dpkg installs must not be group/world writable, whatever the umask of the build machine was.
chmod -R u+rwX,go+rX,go-w "$root"
installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
# The oldest glibc the bundle runs on is the newest GLIBC_x.y symbol version any of its files asks for
# (the glibc of the build machine at most: build releases on the oldest distribution you support).
glibc="$(find "$root/opt/sayso" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
    | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)"
[[ -n "$glibc" ]] || die "could not read the glibc version the bundle needs (objdump from binutils?)"
sed "s/^Depends: /Depends: libc6 (>= $glibc), /" "$rendered/linux/control" > "$root/DEBIAN/control"
echo "Installed-Size: $installed_kb" >> "$root/DEBIAN/control"
install -m 755 "$here/postinst" "$here/postrm" "$root/DEBIAN/"

mkdir -p "$dist"
deb="$dist/sayso_${version}_amd64.deb"
dpkg-deb --root-owner-group "-Z$compression" --build "$root" "$deb" >&2
echo "$deb"
