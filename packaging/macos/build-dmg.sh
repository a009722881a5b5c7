#!/usr/bin/env bash
# Builds dist/Sayso-<version>.dmg on macOS from the PyInstaller app bundle (dist/Sayso.app).
#
#   packaging/macos/build-dmg.sh
#
# With SAYSO_SIGN_IDENTITY set ("Developer ID Application: Name (TEAMID)") the app is signed with the
# hardened runtime and packaging/macos/entitlements.plist, and the dmg is signed too. With
# SAYSO_NOTARY_PROFILE set (a `xcrun notarytool store-credentials` profile) the dmg is notarized and stapled;
# SAYSO_NOTARY_KEYCHAIN names the keychain holding that profile when it is not the login keychain (CI).
# Without them the result is unsigned: fine for testing, Gatekeeper blocks it for everyone else.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dist="${SAYSO_DIST:-$repo/dist}"
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python=python3
version="$("$python" "$repo/packaging/render.py" "$repo/build/packaging" | tail -n 1)"

if [[ ! -d "$dist/Sayso.app" ]]; then
    "${PYINSTALLER:-$repo/.venv/bin/pyinstaller}" --noconfirm --clean --log-level WARN \
        --distpath "$dist" --workpath "$repo/build/pyinstaller" "$repo/packaging/pyinstaller/sayso.spec"
fi
app="$dist/Sayso.app"
[[ -d "$app" ]] || { echo "build-dmg: no $app" >&2; exit 1; }

if [[ -n "${SAYSO_SIGN_IDENTITY:-}" ]]; then
    # Inside out: every library and the executable, then the bundle (--deep is deprecated for signing).
    find "$app/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
        xargs -0 codesign --force --timestamp --options runtime \
            --entitlements "$repo/packaging/macos/entitlements.plist" --sign "$SAYSO_SIGN_IDENTITY"
    codesign --force --timestamp --options runtime --entitlements "$repo/packaging/macos/entitlements.plist" \
        --sign "$SAYSO_SIGN_IDENTITY" "$app"
    codesign --verify --strict --verbose=2 "$app"
fi

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"  # drag-to-install
dmg="$dist/Sayso-$version.dmg"
rm -f "$dmg"
hdiutil create -volname "Sayso $version" -srcfolder "$staging" -fs HFS+ -format UDZO -ov "$dmg"

if [[ -n "${SAYSO_SIGN_IDENTITY:-}" ]]; then
    codesign --force --timestamp --sign "$SAYSO_SIGN_IDENTITY" "$dmg"
fi
if [[ -n "${SAYSO_NOTARY_PROFILE:-}" ]]; then
    xcrun notarytool submit "$dmg" --keychain-profile "$SAYSO_NOTARY_PROFILE" \
        ${SAYSO_NOTARY_KEYCHAIN:+--keychain "$SAYSO_NOTARY_KEYCHAIN"} --wait
    xcrun stapler staple "$dmg"
fi
echo "$dmg"
