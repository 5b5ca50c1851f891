#!/usr/bin/env bash
# `make deb` (after the release build): the Debian package of the extension for
# Debian's PHP X.Y, target/debian/phpX.Y-weixin_<version>_<arch>.deb, with
#   <extension dir>/weixin.so                      (php-config --extension-dir)
#   /etc/php/X.Y/mods-available/weixin.ini         (a conffile)
#   postinst / prerm / postrm from scripts/deb/    (phpenmod / phpdismod, every SAPI)
#   Depends: phpapi-<API>, phpX.Y-common and the libraries weixin.so links to.
#
#   scripts/deb/build.sh          builds it (PHP_CONFIG picks the PHP, default php-config)
#   scripts/deb/build.sh --name   prints the path of the .deb it builds, nothing else
#
# DEB_MAINTAINER overrides the Maintainer field. No debhelper: dpkg-deb only
# (dpkg-shlibdeps, from dpkg-dev, adds the library dependencies when present).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEMPLATES=$ROOT/scripts/deb
PHP_CONFIG=${PHP_CONFIG:-php-config}
MAINTAINER=${DEB_MAINTAINER:-weixin maintainers <maintainers@users.noreply.r-seed-383502c0.example>}
LIBRARY=${CARGO_TARGET_DIR:-$ROOT/target}/release/libweixin.so

die() { echo "make deb: $*" >&2; exit 1; }

command -v "$PHP_CONFIG" >/dev/null || die "$PHP_CONFIG not found (PHP_CONFIG names the PHP to package for)"
php_version=$("$PHP_CONFIG" --version | cut -d. -f1,2)
php_binary=$("$PHP_CONFIG" --php-binary)
extension_dir=$("$PHP_CONFIG" --extension-dir)
prefix=$("$PHP_CONFIG" --prefix)

# Cargo's 1.2.0-rc.1 is Debian's 1.2.0~rc.1 (sorts before 1.2.0).
version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")
[ -n "$version" ] || die "no version in Cargo.toml's [package]"
deb_version=${version//-/\~}
arch=$(dpkg --print-architecture)
package=php$php_version-weixin
deb=$ROOT/target/debian/${package}_${deb_version}_$arch.deb

if [ "${1:-}" = --name ]; then echo "$deb"; exit 0; fi

# The package plugs into Debian's PHP packaging (phpX.Y-common, phpenmod).
[ "$prefix" = /usr ] && [ -d "/etc/php/$php_version" ] ||
    die "$PHP_CONFIG is not Debian's PHP $php_version (prefix $prefix, no /etc/php/$php_version): the package is for Debian's php$php_version packages; use make install for this PHP"

# The API number: from the PHP itself, else from Debian's php-config --phpapi.
api=$("$php_binary" -n -i 2>/dev/null | sed -n 's/^PHP API => \([0-9]*\)$/\1/p')
[ -n "$api" ] || api=$("$PHP_CONFIG" --phpapi 2>/dev/null | grep -x '[0-9]\+' || true)
[ -n "$api" ] || die "cannot tell PHP $php_version's API number (neither $php_binary -i nor $PHP_CONFIG --phpapi)"

# The build must be one this PHP loads (PHP refuses another API's module).
[ -f "$LIBRARY" ] || die "$LIBRARY missing: cargo build --release first (make deb does)"
"$php_binary" -n -d "extension=$LIBRARY" --ri weixin >/dev/null 2>&1 ||
    die "$php_binary does not load $LIBRARY (built for another PHP? make deb PHP_CONFIG=$PHP_CONFIG rebuilds for this one)"

# Staged as debian/<package>/ in a directory of its own: the layout dpkg-shlibdeps expects.
work=$ROOT/target/debian/build
stage=$work/debian/$package
rm -rf "$stage"
mkdir -p "$work/debian"
: >"$work/debian/control" # dpkg-shlibdeps reads it; nothing in it concerns us
umask 022
mods_available=/etc/php/$php_version/mods-available
doc=/usr/share/doc/$package
install -d "$stage/DEBIAN" "$stage$extension_dir" "$stage$mods_available" "$stage$doc"
if command -v strip >/dev/null; then
    strip --strip-unneeded --remove-section=.comment --remove-section=.note \
        -o "$stage$extension_dir/weixin.so" "$LIBRARY"
    chmod 0644 "$stage$extension_dir/weixin.so"
else
    install -m 0644 "$LIBRARY" "$stage$extension_dir/weixin.so"
fi
install -m 0644 "$ROOT/weixin.ini" "$stage$mods_available/weixin.ini"
install -m 0644 "$ROOT/weixin.stub.php" "$stage$doc/weixin.stub.php"

depends="phpapi-$api, php$php_version-common"
if command -v dpkg-shlibdeps >/dev/null; then
    shlibs=$(cd "$work" && dpkg-shlibdeps -O "debian/$package$extension_dir/weixin.so" |
        sed -n 's/^shlibs:Depends=//p')
    [ -z "$shlibs" ] || depends+=", $shlibs"
else
    echo "make deb: no dpkg-shlibdeps (dpkg-dev): Depends lists no shared libraries" >&2
fi

subst() { # template -> stdout
    sed -e "s|@PACKAGE@|$package|g" -e "s|@VERSION@|$deb_version|g" -e "s|@ARCH@|$arch|g" \
        -e "s|@MAINTAINER@|$MAINTAINER|g" -e "s|@DEPENDS@|$depends|g" \
        -e "s|@PHP_VERSION@|$php_version|g" -e "s|@PHP_API@|$api|g" \
        -e "s|@INSTALLED_SIZE@|${installed_size:-0}|g" "$1"
}
subst "$TEMPLATES/copyright.in" >"$stage$doc/copyright"
for script in postinst prerm postrm; do
    subst "$TEMPLATES/$script.in" >"$stage/DEBIAN/$script"
    chmod 0755 "$stage/DEBIAN/$script"
done
echo "$mods_available/weixin.ini" >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\n' |
    LC_ALL=C sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
installed_size=$(du -s -k --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
subst "$TEMPLATES/control.in" >"$stage/DEBIAN/control"

# Timestamps from the last commit: the same tree gives the same package.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "built ${deb#"$ROOT"/}: $package $deb_version for PHP $php_version (API $api), Depends: $depends"
