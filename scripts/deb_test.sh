#!/usr/bin/env bash
# The Debian package, installed the way a user installs it: `make deb` on this
# machine, then `apt install ./phpX.Y-weixin_<version>_<arch>.deb` in a clean
# chroot of this machine's Debian release that has neither Rust nor a compiler
# (apt brings PHP from the archive), and checks:
#   - the chroot has no cargo, rustc, cc, gcc, c++ or clang;
#   - apt installs the package; it holds weixin.so and weixin.ini (a conffile);
#   - weixin is enabled for every SAPI (conf.d links), php --ri weixin works;
#   - examples/seed.php (the article's script) prints a token, fetched from the
#     WeChat stand-in (scripts/wechat_standin.py) and then served by memcached,
#     both running inside the chroot;
#   - php8.2-fpm installed afterwards enables it too (phpenmod's registry);
#   - apt remove disables it everywhere and keeps the conffile; apt purge leaves
#     nothing (no .so, no ini, no conf.d link of any SAPI, no phpenmod state).
# Ends with one line "N passed, M failed"; exits non-zero when a check fails.
#
#   scripts/deb_test.sh           create the chroot on first use, else reuse it
#   scripts/deb_test.sh --fresh   delete it (after unmounting) and create it again
#
# The chroot is ${WEIXIN_MATRIX_DIR:-/var/tmp/weixin-matrix}/deb-<codename>
# (mmdebstrap, the apt variant plus ca-certificates, memcached and python3),
# from this machine's Debian mirrors (WEIXIN_MATRIX_MIRROR overrides). Each run
# installs the package fresh and ends by purging it and whatever apt pulled for
# it, so the next run starts from the same clean chroot. /proc and /dev are
# mounted in a private mount namespace (unshare) and unmounted on exit in any
# case; the chroot is never deleted while something is mounted in it. PHP_CONFIG
# picks the PHP to package for (Debian's; default php-config). Needs root.

# Mounts made in a mount namespace of our own vanish with it, even after a kill -9.
if [ -z "${WEIXIN_DEB_TEST_NS:-}" ] && [ "$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then
    WEIXIN_DEB_TEST_NS=1 exec unshare --mount --propagation private -- "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { say "scripts/deb_test.sh needs root (chroot, mounts)"; exit 1; }
fresh=""
case "${1:-}" in
    --fresh) fresh=1 ;;
    "") ;;
    *) say "usage: scripts/deb_test.sh [--fresh]"; exit 2 ;;
esac

T0=$SECONDS
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$CODENAME" ] || { say "no VERSION_CODENAME in /etc/os-release: not Debian?"; exit 1; }
MATRIX_DIR=${WEIXIN_MATRIX_DIR:-/var/tmp/weixin-matrix}
CHROOT="$MATRIX_DIR/deb-$CODENAME"
MARK=.weixin-deb-test # in the chroot's /: written last at creation (a chroot without it is unfinished)
WORK=/tmp/weixin-deb  # in the chroot: the .deb, the script, the stand-in
MOUNTS=()             # mounted by us, unmounted on exit (last first)
CHROOT_PIDS=()        # services started in the chroot

passed=0 failed=0
check() { # description command...: one counted check
    local desc=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok - $desc"
    else failed=$((failed + 1)); echo "FAIL - $desc"; fi
}
elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# --- mounts -----------------------------------------------------------------

# Mount points at or below $1 (from /proc/self/mountinfo, octal escapes decoded).
mounts_below() {
    awk -v dir="$1" '{ p = $5; gsub(/\\040/, " ", p); if (p == dir || index(p, dir "/") == 1) print p }' /proc/self/mountinfo
}

unmount_all() {
    local i m
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${MOUNTS[i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
    done
    MOUNTS=()
}

# Deletes a chroot directory, only once nothing is mounted below it.
delete_chroot() {
    local dir=$1 m
    [ -e "$dir" ] || return 0
    for m in $(mounts_below "$dir" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    if [ -n "$(mounts_below "$dir")" ]; then
        say "still mounted below $dir, not deleting it:"; mounts_below "$dir" >&2; return 1
    fi
    rm -rf --one-file-system "$dir"
}

on_exit() {
    local status=$?
    local pid
    for pid in "${CHROOT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${CHROOT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    unmount_all
    if [ -n "$(mounts_below "$CHROOT")" ]; then say "still mounted below $CHROOT:"; mounts_below "$CHROOT" >&2; fi
    cleanup # lib.sh's: its services and RUN_DIR
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mount_chroot() {
    mount -t proc proc "$CHROOT/proc" || { say "cannot mount $CHROOT/proc"; return 1; }
    MOUNTS+=("$CHROOT/proc")
    mount --bind /dev "$CHROOT/dev" || { say "cannot bind-mount /dev on $CHROOT/dev"; return 1; }
    MOUNTS+=("$CHROOT/dev")
    cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true
    # dpkg without a terminal (/dev/pts is not mounted) and without fsync (a throwaway system)
    printf '%s\n' 'Dpkg::Use-Pty "0";' 'Dpkg::Options { "--force-unsafe-io"; };' \
        >"$CHROOT/etc/apt/apt.conf.d/90weixin-deb-test"
}

in_chroot() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }

# --- the package ------------------------------------------------------------

APT_PACKAGES+=(mmdebstrap)
ensure_deps
say "make deb"
t=$SECONDS
make -s -C "$ROOT" deb >&2 || { say "make deb failed"; echo "0 passed, 1 failed"; exit 1; }
DEB=$("$ROOT/scripts/deb/build.sh" --name)
[ -f "$DEB" ] || { say "make deb made no $DEB"; echo "0 passed, 1 failed"; exit 1; }
PACKAGE=$(dpkg-deb -f "$DEB" Package)
PHP_V=${PACKAGE#php}; PHP_V=${PHP_V%-weixin}
say "built ${DEB#"$ROOT"/} in $(elapsed $((SECONDS - t)))"

# --- the chroot -------------------------------------------------------------

# This machine's Debian suites for its release (bookworm, -updates, -security),
# as apt sees them; other repositories (vendors') are left out.
mirror_lines() {
    if [ -n "${WEIXIN_MATRIX_MIRROR:-}" ]; then
        printf 'deb %s %s main\n' "${WEIXIN_MATRIX_MIRROR%/}" "$CODENAME" "${WEIXIN_MATRIX_MIRROR%/}" "$CODENAME-updates"
        return
    fi
    apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null |
        awk -v c="$CODENAME" '$2 == c || index($2, c "-") == 1 { print "deb " $1 " " $2 " main" }' | sort -u
}

create_chroot() {
    local tmp="$CHROOT.new" sources=()
    mapfile -t sources < <(mirror_lines)
    ((${#sources[@]})) || sources=("deb http://deb.debian.org/debian $CODENAME main")
    delete_chroot "$tmp"
    mkdir -p "$MATRIX_DIR"
    say "creating $CHROOT (mmdebstrap $CODENAME: apt, ca-certificates, memcached, python3) from:"
    printf '    %s\n' "${sources[@]}" >&2
    mmdebstrap --quiet --variant=apt --include=ca-certificates,memcached,python3 \
        "$CODENAME" "$tmp" "${sources[@]}" >&2 || { delete_chroot "$tmp"; return 1; }
    # No service starts in the chroot when a package is installed.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$tmp/usr/sbin/policy-rc.d"
    # What a clean run leaves installed: everything else is purged after each run.
    chroot "$tmp" dpkg-query -W -f '${Package}\n' | sort >"$tmp/$MARK"
    mv "$tmp" "$CHROOT"
}

t=$SECONDS
if [ -n "$fresh" ]; then say "--fresh: deleting $CHROOT"; delete_chroot "$CHROOT"; fi
if [ -d "$CHROOT" ] && [ ! -f "$CHROOT/$MARK" ]; then say "$CHROOT is unfinished: deleting it"; delete_chroot "$CHROOT"; fi
if [ -f "$CHROOT/$MARK" ]; then
    made="reused"
else
    create_chroot || { say "could not create $CHROOT"; echo "0 passed, 1 failed"; exit 1; }
    made="created"
fi
say "chroot $made in $(elapsed $((SECONDS - t)))"
mount_chroot || { echo "0 passed, 1 failed"; exit 1; }

# Back to the clean state: purge what is not in the list made at creation
# (a run that was interrupted left the package, or PHP, installed).
restore_clean() {
    local extra
    extra=$(comm -13 "$CHROOT/$MARK" <(in_chroot dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' |
        awk '$1 != "un" && $1 != "pn" { print $2 }' | sort))
    [ -z "$extra" ] || in_chroot apt-get purge -y -q $extra >"$RUN_DIR/restore.log" 2>&1 ||
        { tail -n 20 "$RUN_DIR/restore.log" >&2; say "could not purge from $CHROOT: $extra"; return 1; }
}
restore_clean || { echo "0 passed, 1 failed"; exit 1; }

no_build_tools() {
    local found
    found=$(in_chroot sh -c 'for t in cargo rustc rustup cc gcc c++ g++ clang; do command -v $t; done; ls -d /root/.cargo /root/.rustup 2>/dev/null' || true)
    [ -z "$found" ] || { say "in the chroot: $found"; return 1; }
}
check "clean chroot: no cargo, rustc, cc, gcc, c++, clang" no_build_tools

# --- install ----------------------------------------------------------------

rm -rf "$CHROOT$WORK"
mkdir -p "$CHROOT$WORK"
cp "$DEB" "$ROOT/examples/seed.php" "$ROOT/scripts/wechat_standin.py" "$CHROOT$WORK/"
DEB_IN=$WORK/$(basename "$DEB")
LOG="$RUN_DIR/apt.log"

t=$SECONDS
apt_install() {
    in_chroot apt-get update -qq >"$LOG" 2>&1 && in_chroot apt-get install -y -q "$DEB_IN" >>"$LOG" 2>&1 ||
        { tail -n 30 "$LOG" >&2; return 1; }
}
check "apt install ./$(basename "$DEB") (dependencies from the archive)" apt_install
say "apt install in $(elapsed $((SECONDS - t))); it brought: $(sed -n '/NEW packages/,/upgraded/p' "$LOG" | sed '1d;$d' | tr -s ' \n' ' ')"

EXT_DIR=$(in_chroot dpkg -L "$PACKAGE" | grep '/weixin\.so$' || true)
INI=/etc/php/$PHP_V/mods-available/weixin.ini

package_contents() {
    local conffiles
    conffiles=$(in_chroot dpkg-query -W -f '${Conffiles}' "$PACKAGE")
    [ -n "$EXT_DIR" ] && [ -f "$CHROOT$EXT_DIR" ] && [ "$(dirname "$EXT_DIR")" = "$(in_chroot php-config$PHP_V --extension-dir 2>/dev/null || in_chroot php -r 'echo PHP_EXTENSION_DIR;')" ] &&
        [ -f "$CHROOT$INI" ] && grep -q "^ $INI " <<<"$conffiles"
}
check "weixin.so in PHP's extension dir, $INI a conffile" package_contents

# Every SAPI of PHP X.Y in the chroot has the conf.d link (CLI at least).
enabled_everywhere() { # [sapi that must be there]
    local sapis=0 confd
    for confd in "$CHROOT"/etc/php/"$PHP_V"/*/conf.d; do
        [ -d "$confd" ] || continue
        sapis=$((sapis + 1))
        [ "$(readlink "$confd"/*-weixin.ini 2>/dev/null)" = "$INI" ] || { say "not enabled in ${confd#"$CHROOT"}"; return 1; }
    done
    [ "$sapis" -gt 0 ] && { [ -z "${1:-}" ] || [ -d "$CHROOT/etc/php/$PHP_V/$1/conf.d" ]; }
}
check "enabled for every SAPI ($(cd "$CHROOT/etc/php/$PHP_V" && echo */conf.d | sed 's|/conf.d||g'))" enabled_everywhere cli

ri_works() {
    local out
    # No PHP warning (a line "Warning: ..." or "PHP Warning: ..."); the
    # settings' names may say "warning" (weixin.daily_quota_warning).
    out=$(in_chroot php --ri weixin 2>&1) && grep -q 'weixin support => enabled' <<<"$out" &&
        ! grep -qE '^(PHP )?(Warning|Fatal error|Notice|Deprecated):' <<<"$out" || { say "php --ri weixin: $out"; return 1; }
}
check "php --ri weixin" ri_works

# --- the article's script ---------------------------------------------------

MC_PORT=$(free_port)
chroot "$CHROOT" memcached -u root -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 16 &
CHROOT_PIDS+=($!)
rm -f "$CHROOT$WORK/standin.port"
chroot "$CHROOT" python3 "$WORK/wechat_standin.py" --port 0 --port-file "$WORK/standin.port" >/dev/null 2>&1 &
CHROOT_PIDS+=($!)
wait_port 127.0.0.1 "$MC_PORT"
for _ in $(seq 1 100); do [ -s "$CHROOT$WORK/standin.port" ] && break; sleep 0.05; done
API_PORT=$(cat "$CHROOT$WORK/standin.port" 2>/dev/null || true)

seed() { # prints the token of one run of the article's script
    in_chroot php -d "weixin.memcache_servers=127.0.0.1:$MC_PORT" -d "weixin.api_base_url=http://127.0.0.1:$API_PORT" \
        "$WORK/seed.php" 2>&1 | tee -a "$RUN_DIR/seed.out" |
        sed -n '/\["access_token"\]=>/{n;s/^ *string([1-9][0-9]*) "\(.*\)"$/\1/p}'
}
token_calls() {
    in_chroot python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["token_calls"])' \
        "http://127.0.0.1:$API_PORT/__admin/stats?appid=wx1111111111111111"
}
TOKEN1="" TOKEN2=""
first_run() { [ -n "$API_PORT" ] && TOKEN1=$(seed) && [ -n "$TOKEN1" ] || { cat "$RUN_DIR/seed.out" >&2; return 1; }; }
second_run() {
    TOKEN2=$(seed)
    [ -n "$TOKEN2" ] && [ "$TOKEN2" = "$TOKEN1" ] && [ "$(token_calls)" = 1 ] ||
        { say "tokens '$TOKEN1' then '$TOKEN2', token requests $(token_calls)"; return 1; }
}
check "examples/seed.php prints a token (memcached and the WeChat stand-in in the chroot)" first_run
check "examples/seed.php again: the same token, from memcached (1 token request)" second_run

# --- a SAPI installed afterwards ---------------------------------------------

fpm_enables() {
    in_chroot apt-get install -y -q --no-install-recommends "php$PHP_V-fpm" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; return 1; }
    local out
    out=$(in_chroot "php-fpm$PHP_V" -m 2>&1)
    enabled_everywhere fpm && grep -qx weixin <<<"$out" || { say "php-fpm$PHP_V -m: $out"; return 1; }
}
t=$SECONDS
check "php$PHP_V-fpm installed afterwards loads it too" fpm_enables
say "php$PHP_V-fpm installed in $(elapsed $((SECONDS - t)))"

# --- remove, purge ----------------------------------------------------------

leftovers() { # what is left of the package in the chroot
    find "$CHROOT/etc/php" "$CHROOT/usr/lib/php" "$CHROOT/var/lib/php" -name '*weixin*' 2>/dev/null | sed "s|^$CHROOT||"
    in_chroot dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "$PACKAGE" 2>/dev/null | grep -v '^un ' || true
}
removed() {
    in_chroot apt-get remove -y -q "$PACKAGE" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; return 1; }
    local left php_m
    left=$(find "$CHROOT/etc/php/$PHP_V" -name '*weixin*' ! -path "*/mods-available/*" | sed "s|^$CHROOT||")
    php_m=$(in_chroot php -m 2>&1)
    [ -z "$left" ] && [ -f "$CHROOT$INI" ] && [ ! -e "$CHROOT$EXT_DIR" ] && ! grep -qi 'weixin\|warning' <<<"$php_m" ||
        { say "after apt remove: links ${left:-none}; php -m: $(grep -i 'weixin\|warning' <<<"$php_m")"; return 1; }
}
check "apt remove: disabled for every SAPI, weixin.so gone, weixin.ini kept (conffile)" removed
purged() {
    in_chroot apt-get purge -y -q "$PACKAGE" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; return 1; }
    local left
    left=$(leftovers)
    [ -z "$left" ] || { say "left after purge: $left"; return 1; }
}
check "apt purge: nothing left (no .so, no ini, no conf.d link, no phpenmod state)" purged

# Services stopped, then back to the clean chroot for the next run.
for pid in "${CHROOT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${CHROOT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
CHROOT_PIDS=()
t=$SECONDS
restore_clean || true
rm -rf "$CHROOT$WORK"
say "chroot back to its clean state in $(elapsed $((SECONDS - t)))"

say "chroot $made; the whole run took $(elapsed $((SECONDS - T0)))"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
