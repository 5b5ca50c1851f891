#!/usr/bin/env bash
# The whole suite (cargo test + the phpt suite, scripts/test.sh) on other PHP
# builds, each in a Debian chroot kept outside the clone and reused:
#
#   scripts/matrix.sh 8.2        Debian 12's PHP 8.2 on this machine (scripts/test.sh)
#   scripts/matrix.sh 8.4        Debian 13 (trixie)'s PHP 8.4, in a trixie chroot
#   scripts/matrix.sh 8.5        PHP 8.5 from Debian experimental, in a sid chroot
#                                (reported, not counted, when it cannot be installed)
#   scripts/matrix.sh zts        a ZTS debug PHP 8.4 built from Debian's upstream
#                                tarball into /opt/php-zts of the trixie chroot
#                                (a memory leak report fails the leg)
#   scripts/matrix.sh all        8.2 8.4 8.5 zts
#   scripts/matrix.sh ci         8.2 8.4 zts 8.5, then scripts/deb_test.sh if present
#                                (what .ci/run runs)
#   scripts/matrix.sh 8.4 zts    several legs
#   scripts/matrix.sh exec LEG [CMD...]   CMD (default: a shell) in LEG's chroot, with
#                                its mounts and environment, in a fresh copy of the clone
#   scripts/matrix.sh clean      unmount, check nothing is mounted, delete the chroots
#
# Each leg prints its own "N passed, M failed"; the run ends with one line per
# leg and a last line "N passed, M failed" summing the counted legs, and fails
# if any counted leg failed (a failing cargo test, a chroot that cannot be
# made or a stopped suite counts as one failure when the phpt counts show
# none; the ZTS leg's leak reports add one).
#
# A suite (scripts/test.sh, or scripts/deb_test.sh) still running after
# WEIXIN_MATRIX_SUITE_TIMEOUT seconds (default 900; a leg's suite takes 3-6
# minutes on 2 cores) is stopped and its leg fails: a hung test cannot eat
# CI's whole time.
#
# WEIXIN_MATRIX_DIR (default /var/tmp/weixin-matrix) holds the chroots, the
# legs' logs, and per chroot a copy of the clone (its tracked and untracked,
# not ignored, files) at the clone's own path, so a chroot leg never writes
# into the clone and runs beside a scripts/test.sh there (the 8.2 leg is
# scripts/test.sh in the clone). A chroot leg's build goes to
# target/matrix-LEG of that copy. WEIXIN_MATRIX_MIRROR overrides the Debian
# mirror (default: this machine's own, from /etc/apt).
#
# Mounts (/proc, /sys, /dev, and the host's Rust: CARGO_HOME and RUSTUP_HOME,
# read-only) are made in a private mount namespace (unshare), so they are
# never visible outside the leg and vanish with it; they are also unmounted
# on exit. Cargo's own home in a chroot is a directory of the chroot, seeded
# from the host's registry cache. Needs root.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/matrix.sh"
MATRIX_DIR=${WEIXIN_MATRIX_DIR:-/var/tmp/weixin-matrix}
LOG_DIR="$MATRIX_DIR/logs"
HOST_CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
HOST_RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
SUITE_TIMEOUT=${WEIXIN_MATRIX_SUITE_TIMEOUT:-900}

ZTS_PREFIX=/opt/php-zts
ZTS_CONFIGURE=(--prefix="$ZTS_PREFIX" --enable-zts --enable-debug --enable-embed
    --disable-all --disable-cgi --disable-phpdbg --enable-cli --enable-fpm
    --enable-pcntl --enable-posix --enable-sockets --enable-session --enable-tokenizer --enable-opcache
    --with-openssl --with-curl --with-zlib
    --with-config-file-path="$ZTS_PREFIX/etc" --with-config-file-scan-dir="$ZTS_PREFIX/etc/conf.d")
# The php8.4 source taken when none of the versions in the chroot's source
# index is in the mirror's pool (the pool kept 8.4.16 when trixie's index
# named 8.4.27): its .dsc's sha256; the tarball is checked against the .dsc.
ZTS_FALLBACK_DSC="8.4.16-1 9f2172c07beb78b91fe6388c88343c82d38552f3955def7e0706eb09f6311840"

# Inside a chroot.
CHROOT_CARGO_HOME=/var/cache/weixin-matrix/cargo
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

TOOLS=(memcached clang libclang-dev python3 openssl ca-certificates make build-essential
       autoconf pkg-config zlib1g-dev nginx-light wrk git procps faketime curl xz-utils nutcracker)
TRIXIE_PACKAGES=(php8.4-cli php8.4-dev php8.4-memcache php8.4-memcached php8.4-curl php8.4-fpm "${TOOLS[@]}"
       # to build the ZTS PHP
       libssl-dev libcurl4-openssl-dev bison re2c libxml2-dev)
SID_PHP_PACKAGES=(php8.5-cli php8.5-dev php8.5-curl php8.5-fpm)

say() { printf '==> %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$SELF" >&2
    exit 2
}

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# --- safety -----------------------------------------------------------------

check_matrix_dir() {
    case $MATRIX_DIR in /?*) ;; *) die "WEIXIN_MATRIX_DIR must be an absolute path";; esac
    MATRIX_DIR=$(realpath -m "$MATRIX_DIR")
    LOG_DIR="$MATRIX_DIR/logs"
    local p rp
    for p in / /var /var/tmp /tmp /root /home /usr /opt /srv "$HOME"; do
        [ "$MATRIX_DIR" != "$(realpath -m "$p")" ] || die "WEIXIN_MATRIX_DIR=$MATRIX_DIR: a directory of its own, please"
    done
    case "$MATRIX_DIR/" in "$ROOT/"*) die "WEIXIN_MATRIX_DIR must be outside the clone ($ROOT)";; esac
    for p in "$ROOT" "$HOST_CARGO_HOME" "$HOST_RUSTUP_HOME" "$HOME"; do
        rp=$(realpath -m "$p")
        case "$rp/" in "$MATRIX_DIR/"*) die "$p is inside WEIXIN_MATRIX_DIR=$MATRIX_DIR";; esac
    done
}

# Mount points at or under $1 in this mount namespace, innermost first.
mounts_under() {
    awk -v d="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' \
        /proc/self/mountinfo | tac
}

# Processes whose root directory is at or under $1 (inside a chroot there).
processes_under() {
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case "$r" in "$1" | "$1"/*) echo "${p#/proc/}";; esac
    done
}

# Other mount namespaces holding mounts at or under $1: "pid mountpoint".
foreign_mounts_under() {
    local self p ns
    self=$(readlink /proc/self/ns/mnt)
    declare -A seen=()
    for p in /proc/[0-9]*; do
        ns=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
        [ "$ns" != "$self" ] && [ -z "${seen[$ns]:-}" ] || continue
        seen[$ns]=1
        awk -v d="$1" -v pid="${p#/proc/}" \
            '{ m = $5; if (m == d || index(m, d "/") == 1) print pid, m }' "$p/mountinfo" 2>/dev/null || true
    done
}

# Deletes $1 (a chroot or a half-made one) once nothing is mounted under it
# in any namespace and no process runs inside it.
safe_remove() {
    local dir=$1 m left
    [ -e "$dir" ] || return 0
    case "$dir" in "$MATRIX_DIR" | "$MATRIX_DIR"/?*) ;; *) die "refusing to delete $dir (not $MATRIX_DIR or under it)";; esac
    while read -r m; do
        [ -n "$m" ] || continue
        say "unmounting $m"
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done < <(mounts_under "$dir")
    left=$(mounts_under "$dir")
    [ -z "$left" ] || die "still mounted under $dir, not deleting:"$'\n'"$left"
    left=$(foreign_mounts_under "$dir")
    [ -z "$left" ] || die "mounted under $dir in another mount namespace (pid, mount point), not deleting:"$'\n'"$left"
    left=$(processes_under "$dir" | tr '\n' ' ')
    [ -z "$left" ] || die "processes run inside $dir (pids $left), not deleting"
    rm -rf --one-file-system "$dir"
}

# --- chroots ------------------------------------------------------------------

# The Debian mirror this machine uses (its own suite's entry in /etc/apt).
detect_mirror() {
    if [ -n "${WEIXIN_MATRIX_MIRROR:-}" ]; then echo "${WEIXIN_MATRIX_MIRROR%/}"; return; fi
    local codename uri=""
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    shopt -s nullglob
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        uri=$(awk -v s="$codename" 'BEGIN { RS = ""; FS = "\n" }
            { uris = ""; ok = 0
              for (i = 1; i <= NF; i++) {
                  if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); uris = u[1] }
                  if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " s " ")) ok = 1
              }
              if (ok && uris != "") { print uris; exit } }' "$f")
        [ -z "$uri" ] || break
    done
    if [ -z "$uri" ]; then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            uri=$(awk -v s="$codename" '$1 == "deb" {
                  i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                  if ($(i + 1) == s) { print $i; exit } }' "$f")
            [ -z "$uri" ] || break
        done
    fi
    shopt -u nullglob
    echo "${uri:-http://deb.debian.org/debian}" | sed 's:/*$::'
}

# Creates chroot $1 (suite $2) with mmdebstrap unless it exists: made in a
# scratch directory, renamed when complete. $3 is its apt sources.list.
create_chroot() {
    local name=$1 suite=$2 sources=$3 dir="$MATRIX_DIR/$1"
    [ -f "$dir/.weixin-matrix" ] && return 0
    [ ! -e "$dir" ] || die "$dir exists but is not a finished chroot: scripts/matrix.sh clean"
    command -v mmdebstrap >/dev/null || {
        say "installing mmdebstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
    }
    local tmp="$MATRIX_DIR/.$name.new"
    safe_remove "$tmp"
    say "creating the $suite chroot $dir (mmdebstrap, mirror $MIRROR)"
    mmdebstrap --quiet --variant=apt --include=ca-certificates \
        --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Retries "3"' \
        "$suite" "$tmp" "deb $MIRROR $suite main" || { say "mmdebstrap $suite failed"; return 1; }
    rm -f "$tmp/etc/apt/sources.list.d/"*
    printf '%s\n' "$sources" >"$tmp/etc/apt/sources.list"
    printf '%s\n' 'Acquire::Check-Valid-Until "false";' 'Acquire::Retries "3";' \
        'APT::Install-Recommends "false";' >"$tmp/etc/apt/apt.conf.d/90weixin-matrix"
    # Installing memcached, nginx or php-fpm starts no daemon in the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    [ -s "$tmp/etc/hosts" ] || cp /etc/hosts "$tmp/etc/hosts"
    date -u +%FT%TZ >"$tmp/.weixin-matrix"
    mv "$tmp" "$dir"
}

MOUNTED_ROOT=""

bind_mount() { # SRC DST [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2"
    [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"
}

mount_chroot() {
    local c=$1
    # Only in the leg's own mount namespace (see the top): never on the host's.
    [ "$(readlink /proc/self/ns/mnt)" != "${WEIXIN_MATRIX_HOST_NS:-}" ] \
        || die "internal: refusing to mount outside a private mount namespace"
    MOUNTED_ROOT=$c
    mount -t proc proc "$c/proc"
    bind_mount /sys "$c/sys" ro
    bind_mount /dev "$c/dev"
    ! mountpoint -q /dev/pts || bind_mount /dev/pts "$c/dev/pts"
    ! mountpoint -q /dev/shm || bind_mount /dev/shm "$c/dev/shm"
    bind_mount "$HOST_CARGO_HOME" "$c$HOST_CARGO_HOME" ro
    bind_mount "$HOST_RUSTUP_HOME" "$c$HOST_RUSTUP_HOME" ro
    rm -f "$c/etc/resolv.conf"
    cp -L /etc/resolv.conf "$c/etc/resolv.conf"
}

unmount_chroot() {
    local c=$MOUNTED_ROOT m pids
    [ -n "$c" ] || return 0
    pids=$(processes_under "$c" | tr '\n' ' ')
    if [ -n "${pids// /}" ]; then
        say "stopping processes left in the chroot: $pids"
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
        sleep 1
        pids=$(processes_under "$c" | tr '\n' ' ')
        # shellcheck disable=SC2086
        [ -z "${pids// /}" ] || kill -9 $pids 2>/dev/null || true
    fi
    while read -r m; do
        [ -n "$m" ] || continue
        umount "$m" 2>/dev/null || umount -l "$m" || say "could not unmount $m"
    done < <(mounts_under "$c")
    [ -z "$(mounts_under "$c")" ] || say "still mounted under $c: $(mounts_under "$c" | tr '\n' ' ')"
    MOUNTED_ROOT=""
}

# A fresh copy of the clone's files (tracked, and untracked but not ignored)
# at the same path inside chroot $1; its target/ is kept (build outputs).
# Made before the mounts, so no deletion here can reach a mount.
copy_clone() {
    local dst="$1$ROOT"
    [ -z "$(mounts_under "$1")" ] || die "internal: copy_clone with mounts under $1"
    mkdir -p "$dst"
    find "$dst" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf --one-file-system {} +
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files -z -co --exclude-standard \
            | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
            | tar --null -T - -cf -) | tar -C "$dst" -xf -
    else
        tar -C "$ROOT" --exclude=./target -cf - . | tar -C "$dst" -xf -
    fi
}

CHROOT=""
LEG_ENV=()

# in_chroot [--timeout SECONDS] CMD...: runs CMD in the chroot, with a clean
# environment (LEG_ENV added). A timeout stops CMD (TERM, then KILL 30 s
# later); what it started is stopped when the leg unmounts.
in_chroot() {
    local limit=()
    [ "$1" != --timeout ] || { limit=(timeout --foreground -k 30 "$2"); shift 2; }
    "${limit[@]}" env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" PATH="$CHROOT_PATH" \
        DEBIAN_FRONTEND=noninteractive "${LEG_ENV[@]}" chroot "$CHROOT" "$@"
}

# Installs what is missing of packages $@ (name or name/suite) in the chroot.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        in_chroot dpkg-query -W -f='${Status}' "${pkg%%/*}" 2>/dev/null | grep "install ok installed" >/dev/null \
            || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    local log="$LOG_DIR/$LEG.apt.log"
    say "[$LEG] installing in the $(basename "$CHROOT") chroot: ${missing[*]}"
    if ! { in_chroot apt-get update -qq && in_chroot apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        say "[$LEG] apt-get failed in the $(basename "$CHROOT") chroot (its output: $log)"
        return 1
    fi
}

# Seeds the chroot's CARGO_HOME with the host's registry cache once (no
# download for crates the host already has); cargo writes there, not on the host.
seed_cargo_home() {
    local home="$CHROOT$CHROOT_CARGO_HOME"
    [ ! -d "$home/registry" ] || return 0
    mkdir -p "$home/registry"
    local d
    for d in index cache; do
        [ ! -d "$HOST_CARGO_HOME/registry/$d" ] || cp -a "$HOST_CARGO_HOME/registry/$d" "$home/registry/"
    done
}

# --- run inside a chroot (sent with declare -f) -------------------------------

# fetch_php_source FALLBACK_VERSION FALLBACK_DSC_SHA256: php8.4's upstream
# tarball from the mirror's pool into the current directory, its sha256
# checked against its .dsc (whose own sha256 comes from the signed source
# index, or is the pinned fallback's). Prints the tarball's name.
fetch_php_source() {
    local fb_ver=$1 fb_sha=$2 pool="$MIRROR/pool/main/p/php8.4" cands ver sha dsc osha orig
    cands=$(apt-cache showsrc php8.4 2>/dev/null | awk '
        /^Package: / { p = $2 } /^Version: / { v = $2 }
        /^Checksums-Sha256:/ { c = 1; next }
        /^ / && c { if (p == "php8.4" && $3 ~ /\.dsc$/) print v, $1, $3; next }
        { c = 0 }' | sort -u -r -V || true)
    cands+=$'\n'"$fb_ver $fb_sha php8.4_$fb_ver.dsc"
    while read -r ver sha dsc; do
        [ -n "$ver" ] || continue
        if ! curl -fsS --retry 3 -o "$dsc.part" "$pool/$dsc" 2>/dev/null; then
            echo "==> php8.4 $ver: $pool/$dsc is not on the mirror" >&2; continue
        fi
        if ! echo "$sha  $dsc.part" | sha256sum -c --quiet >/dev/null 2>&1; then
            echo "==> php8.4 $ver: $dsc does not match its sha256 $sha" >&2; rm -f "$dsc.part"; continue
        fi
        mv "$dsc.part" "$dsc"
        read -r osha orig < <(awk '/^Checksums-Sha256:/ { c = 1; next }
            /^ / && c { if ($3 ~ /\.orig\.tar\.[a-z0-9]+$/) print $1, $3; next } { c = 0 }' "$dsc") || true
        [ -n "${orig:-}" ] || { echo "==> php8.4 $ver: no upstream tarball in $dsc" >&2; continue; }
        if ! { [ -f "$orig" ] && echo "$osha  $orig" | sha256sum -c --quiet >/dev/null 2>&1; }; then
            curl -fsS --retry 3 -o "$orig.part" "$pool/$orig" || { echo "==> php8.4 $ver: $orig is not on the mirror" >&2; continue; }
            echo "$osha  $orig.part" | sha256sum -c --quiet >/dev/null 2>&1 \
                || { echo "==> php8.4 $ver: $orig does not match the sha256 in $dsc" >&2; rm -f "$orig.part"; continue; }
            mv "$orig.part" "$orig"
        fi
        echo "==> php8.4 $ver: $orig (sha256 $osha, as $dsc says)" >&2
        echo "$orig"
        return 0
    done <<<"$cands"
    echo "==> no php8.4 upstream tarball found on $MIRROR" >&2
    return 1
}

# build_zts PREFIX FALLBACK_VERSION FALLBACK_SHA CONFIGURE_ARGS...: builds
# and installs the ZTS debug PHP unless PREFIX already holds one built with
# the same arguments.
build_zts() {
    local prefix=$1 fb_ver=$2 fb_sha=$3; shift 3
    local want="$*" orig build
    if [ -x "$prefix/bin/php" ] && [ "$(cat "$prefix/.weixin-matrix-build" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    mkdir -p /var/cache/weixin-matrix/src && cd /var/cache/weixin-matrix/src
    orig=$(fetch_php_source "$fb_ver" "$fb_sha")
    build=/var/tmp/php-zts-build
    rm -rf "$build" && mkdir -p "$build"
    tar -C "$build" -xf "/var/cache/weixin-matrix/src/$orig"
    cd "$build"/php-*/
    echo "==> building the ZTS debug PHP ($(basename "$PWD"), make -j$(nproc)); logs in $PWD" >&2
    ./configure "$@" >configure.log 2>&1 || { tail -n 30 configure.log >&2; return 1; }
    make -j"$(nproc)" >make.log 2>&1 || { grep -m 20 -i 'error' make.log >&2; tail -n 20 make.log >&2; return 1; }
    rm -rf "$prefix"
    make install >install.log 2>&1 || { tail -n 20 install.log >&2; return 1; }
    mkdir -p "$prefix/etc/conf.d"
    # A debug build reports the memory a request leaked (on stderr) with this.
    printf 'report_memleaks=1\n' >"$prefix/etc/conf.d/00-weixin-matrix.ini"
    echo "$want" >"$prefix/.weixin-matrix-build"
    "$prefix/bin/php" -v >&2
}

# build_memcache PHP_CONFIG INI: PECL memcache (Debian's php-memcache source)
# for that PHP, unless it loads it already; enabled by writing INI (a path),
# or with phpenmod when INI is "phpenmod". PHP 8.5 dropped
# ext/standard/php_smart_string*.h: the includes then point at Zend's.
build_memcache() {
    local pc=$1 ini=$2 php phpize tarball build
    php=$("$pc" --php-binary)
    ! "$php" -m 2>/dev/null | grep -x memcache >/dev/null || return 0
    mkdir -p /var/cache/weixin-matrix/src && cd /var/cache/weixin-matrix/src
    ls php-memcache_*.orig.tar.* >/dev/null 2>&1 || apt-get source --download-only -qq php-memcache >/dev/null 2>&1 \
        || { echo "==> apt-get source php-memcache failed" >&2; return 1; }
    tarball=$(ls php-memcache_*.orig.tar.* | sort -V | tail -n 1)
    build=/var/tmp/memcache-build-$("$pc" --vernum)
    rm -rf "$build" && mkdir -p "$build"
    tar -C "$build" -xf "$tarball"
    cd "$build"/memcache-*/
    if [ ! -f "$("$pc" --include-dir)/ext/standard/php_smart_string.h" ]; then
        sed -i -e 's|"ext/standard/php_smart_string\(_public\)\{0,1\}\.h"|"Zend/zend_smart_string.h"|' src/*.[ch]
    fi
    phpize=$(dirname "$pc")/$(basename "$pc" | sed 's/php-config/phpize/')
    echo "==> building PECL memcache ($(basename "$PWD"), $tarball) with $phpize" >&2
    { "$phpize" && ./configure --with-php-config="$pc" && make -j"$(nproc)" && make install; } >build.log 2>&1 \
        || { tail -n 30 build.log >&2; return 1; }
    if [ "$ini" = phpenmod ]; then
        local v; v=$("$pc" --version | cut -d. -f1,2)
        printf '; priority=20\nextension=memcache.so\n' >"/etc/php/$v/mods-available/memcache.ini"
        phpenmod -v "$v" -s ALL memcache
    else
        mkdir -p "$(dirname "$ini")" && echo 'extension=memcache.so' >"$ini"
    fi
    "$php" -m | grep -x memcache >/dev/null
}

chroot_fn() { # FUNCTION ARGS...: runs one of the functions above in the chroot
    local fn=$1; shift
    in_chroot env MIRROR="$MIRROR" bash -c \
        "set -euo pipefail; $(declare -f fetch_php_source build_zts build_memcache); $fn \"\$@\"" "$fn" "$@"
}

# --- a leg, inside its own mount namespace ------------------------------------

TIMES=()
phase() { # LABEL START
    local t=$((SECONDS - $2))
    TIMES+=("$1 $(fmt_time "$t")")
    say "[$LEG] $1: $(fmt_time "$t")"
}

# Exit status 3: PHP 8.5 cannot be installed today (reason in LOG_DIR/8.5.reason).
not_installable() {
    printf '%s\n' "$1" >"$LOG_DIR/$LEG.reason"
    say "[$LEG] not installable today ($1)"
    exit 3
}

prepare_leg() { # LEG: chroot made, mounted, provisioned; sets CHROOT and LEG_ENV
    local t name
    case $LEG in
        8.4 | zts) name=trixie ;;
        8.5) name=sid ;;
        *) die "unknown leg $LEG" ;;
    esac
    CHROOT="$MATRIX_DIR/$name"
    exec 9>"$MATRIX_DIR/.$name.lock"
    flock -n 9 || { say "waiting for another matrix run using the $name chroot"; flock 9; }

    t=$SECONDS
    local created=""
    if [ ! -f "$CHROOT/.weixin-matrix" ]; then
        created=1
        if [ "$name" = trixie ]; then
            create_chroot trixie trixie "deb $MIRROR trixie main"$'\n'"deb-src $MIRROR trixie main"
        else
            create_chroot sid sid "deb $MIRROR sid main"$'\n'"deb-src $MIRROR sid main"$'\n'"deb $MIRROR experimental main" \
                || not_installable "the sid chroot could not be created (see above)"
        fi
    fi
    if [ "$name" = sid ]; then
        # experimental's php-common (2:102~) breaks php8.5-common: sid's is taken.
        printf 'Package: php-common\nPin: release a=unstable\nPin-Priority: 990\n' \
            >"$CHROOT/etc/apt/preferences.d/weixin-php-common"
    fi
    copy_clone "$CHROOT"
    trap unmount_chroot EXIT
    trap 'exit 130' INT TERM
    mount_chroot "$CHROOT"
    seed_cargo_home
    [ -z "$created" ] || phase "chroot created" "$t"

    t=$SECONDS
    if [ "$name" = trixie ]; then
        ensure_packages "${TRIXIE_PACKAGES[@]}"
    else
        if ! ensure_packages "${TOOLS[@]}" "${SID_PHP_PACKAGES[@]}"; then
            local log="$LOG_DIR/$LEG.apt.log"
            not_installable "$(grep -E '^ |^E:' "$log" | grep -v '^E: Unable to correct problems' | head -n 3 | sed 's/^ *//' | paste -sd ';' -)"
        fi
    fi
    phase "packages" "$t"

    LEG_ENV=(CARGO_HOME="$CHROOT_CARGO_HOME" RUSTUP_HOME="$HOST_RUSTUP_HOME"
             CARGO_TARGET_DIR="$ROOT/target/matrix-$LEG" WEIXIN_MATRIX_LEG="$LEG")
    case $LEG in
        8.4) LEG_ENV+=(PHP_CONFIG=/usr/bin/php-config8.4 PATH="$HOST_CARGO_HOME/bin:$CHROOT_PATH") ;;
        8.5)
            LEG_ENV+=(PHP_CONFIG=/usr/bin/php-config8.5 PATH="$HOST_CARGO_HOME/bin:$CHROOT_PATH")
            t=$SECONDS
            chroot_fn build_memcache /usr/bin/php-config8.5 phpenmod \
                || say "[$LEG] PECL memcache could not be built: its interop tests skip"
            phase "PECL memcache" "$t"
            ;;
        zts)
            LEG_ENV+=(PHP_CONFIG="$ZTS_PREFIX/bin/php-config" PHP="$ZTS_PREFIX/bin/php"
                      PATH="$ZTS_PREFIX/bin:$ZTS_PREFIX/sbin:$HOST_CARGO_HOME/bin:$CHROOT_PATH")
            t=$SECONDS
            # shellcheck disable=SC2086
            chroot_fn build_zts "$ZTS_PREFIX" $ZTS_FALLBACK_DSC "${ZTS_CONFIGURE[@]}"
            phase "ZTS PHP" "$t"
            t=$SECONDS
            chroot_fn build_memcache "$ZTS_PREFIX/bin/php-config" "$ZTS_PREFIX/etc/conf.d/memcache.ini" \
                || say "[$LEG] PECL memcache could not be built: its interop tests skip"
            phase "PECL memcache" "$t"
            ;;
    esac
}

leg_main() {
    LEG=$1
    prepare_leg
    local t=$SECONDS status=0
    say "[$LEG] $(in_chroot bash -c 'php -v | head -n 1') ($(in_chroot bash -c 'php-config --extension-dir'))"
    say "[$LEG] suite: scripts/test.sh in $(basename "$CHROOT"):$ROOT (CARGO_TARGET_DIR=target/matrix-$LEG)"
    echo "--- weixin-matrix: suite output follows ---"
    in_chroot --timeout "$SUITE_TIMEOUT" bash -c 'cd "$1" && scripts/test.sh' test "$ROOT" || status=$?
    [ "$status" -ne 124 ] || say "[$LEG] the suite did not finish within ${SUITE_TIMEOUT}s: stopped"
    phase "suite" "$t"
    printf '%s\n' "${TIMES[@]}" >"$LOG_DIR/$LEG.times"
    return "$status"
}

exec_main() { # LEG CMD...
    LEG=$1; shift
    prepare_leg
    (($#)) || set -- bash -i
    in_chroot bash -c 'cd "$1" && shift && exec "$@"' exec "$ROOT" "$@"
}

# --- the legs, from the host ------------------------------------------------

SUMMARY=()
TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_LEGS=0

# "N passed, M failed": the last such line of log $1.
counts_of() { grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1 || true; }

# Memory leak reports of a debug PHP in the suite's output ($1: a leg's log).
leak_reports() {
    sed -n '/^--- weixin-matrix: suite output follows ---$/,$p' "$1" \
        | grep -aE 'Freeing 0x|memory leaks? detected|Last leak repeated|leaked' \
        | grep -avE '^Tests leaked *:' || true
}

run_leg() {
    local leg=$1 log="$LOG_DIR/$1.log" start=$SECONDS status counts passed failed note="" elapsed
    rm -f "$LOG_DIR/$leg.reason" "$LOG_DIR/$leg.times"
    say "leg $leg"
    # A leg's own "N passed, M failed" is shown as "==> LEG: N passed, M
    # failed" (the log keeps it as it was): the run's last line is the only
    # line of that form in its output.
    # On the host, the timeout stops the suite's whole process group (what a
    # hung test left running would keep the output pipe open); from a
    # terminal it stays in the foreground, so that Ctrl-C reaches it.
    local limit=(timeout -k 30 "$SUITE_TIMEOUT")
    [ ! -t 0 ] || limit=(timeout --foreground -k 30 "$SUITE_TIMEOUT")
    set +e
    case $leg in
        8.2) (cd "$ROOT" && "${limit[@]}" scripts/test.sh) ;;
        deb) (cd "$ROOT" && "${limit[@]}" scripts/deb_test.sh) ;;
        *) unshare --mount --propagation private -- \
               env WEIXIN_MATRIX_HOST_NS="$(readlink /proc/self/ns/mnt)" "$SELF" __leg "$leg" ;;
    esac 2>&1 | tee "$log" | sed -u -E "s/^([0-9]+ passed, [0-9]+ failed)\$/==> $leg: \1/"
    status=${PIPESTATUS[0]}
    set -e
    elapsed=$(fmt_time $((SECONDS - start)))
    [ ! -f "$LOG_DIR/$leg.times" ] || note="; $(paste -sd ',' "$LOG_DIR/$leg.times" | sed 's/,/, /g')"

    if [ "$leg" = 8.5 ] && [ "$status" -eq 3 ] && [ -f "$LOG_DIR/$leg.reason" ]; then
        SUMMARY+=("$leg: not installable today ($(cat "$LOG_DIR/$leg.reason")) — not counted [$elapsed]")
        return 0
    fi
    counts=$(counts_of "$log")
    passed=0 failed=0
    [ -z "$counts" ] || { passed=${counts%% passed*}; failed=${counts#*passed, }; failed=${failed%% failed}; }
    if [ "$leg" = zts ]; then
        local leaks
        leaks=$(leak_reports "$log")
        if [ -n "$leaks" ]; then
            say "zts: memory leak reports of the debug build:"
            printf '%s\n' "$leaks" | head -n 40 >&2
            failed=$((failed + 1)); note+="; leak reports"
            status=1
        fi
    fi
    if [ "$status" -eq 124 ] || grep -aq "the suite did not finish within" "$log"; then
        local running
        running=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | tr '\r' '\n' \
            | sed -n 's/.*TEST [0-9]*\/[0-9]* \[\([^]]*\)\].*/\1/p' | tail -n 1)
        note+="; the suite did not finish within ${SUITE_TIMEOUT}s: stopped${running:+ in ${running#"$ROOT"/}}"
        failed=$((failed + 1))
    elif [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1; note+="; exit status $status (cargo test, build or set-up failed: see $log)"
    fi
    [ "$status" -eq 0 ] || FAILED_LEGS=$((FAILED_LEGS + 1))
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    SUMMARY+=("$leg: $passed passed, $failed failed [$elapsed$note]")
}

main() {
    (($#)) || usage
    case $1 in
        __leg | __exec)
            [ -n "${WEIXIN_MATRIX_HOST_NS:-}" ] || die "internal entry point"
            check_matrix_dir
            MIRROR=$(detect_mirror)
            if [ "$1" = __leg ]; then leg_main "$2"; else shift; exec_main "$@"; fi
            return
            ;;
        -h | --help | help) usage ;;
    esac
    [ "$(id -u)" -eq 0 ] || die "run as root (chroots, mounts)"
    check_matrix_dir
    mkdir -p "$LOG_DIR"
    export WEIXIN_MATRIX_DIR="$MATRIX_DIR" # scripts/deb_test.sh's chroot goes there too

    case $1 in
        clean)
            local lock fd
            for lock in "$MATRIX_DIR"/.*.lock; do
                [ -e "$lock" ] || continue
                exec {fd}>"$lock"
                flock -n "$fd" || die "a matrix run holds $lock: not deleting"
            done
            local d
            for d in "$MATRIX_DIR"/* "$MATRIX_DIR"/.*.new; do [ ! -e "$d" ] || safe_remove "$d"; done
            safe_remove "$MATRIX_DIR"
            say "deleted $MATRIX_DIR"
            return
            ;;
        exec)
            shift
            case ${1:-} in 8.4 | 8.5 | zts) ;; *) die "exec: one of 8.4, 8.5, zts";; esac
            [ -d "$HOST_RUSTUP_HOME/toolchains" ] || die "no rustup toolchain in $HOST_RUSTUP_HOME"
            exec unshare --mount --propagation private -- \
                env WEIXIN_MATRIX_HOST_NS="$(readlink /proc/self/ns/mnt)" WEIXIN_MATRIX_DIR="$MATRIX_DIR" \
                "$SELF" __exec "$@"
            ;;
    esac

    local legs=() arg
    for arg in "$@"; do
        case $arg in
            8.2 | 8.4 | 8.5 | zts) legs+=("$arg") ;;
            all) legs+=(8.2 8.4 8.5 zts) ;;
            ci)
                legs+=(8.2 8.4 zts 8.5)
                [ ! -x "$ROOT/scripts/deb_test.sh" ] || legs+=(deb)
                ;;
            *) usage ;;
        esac
    done
    local leg need_rust=""
    for leg in "${legs[@]}"; do case $leg in 8.4 | 8.5 | zts) need_rust=1;; esac; done
    if [ -n "$need_rust" ]; then
        [ -d "$HOST_RUSTUP_HOME/toolchains" ] && [ -d "$HOST_CARGO_HOME/bin" ] \
            || die "the chroot legs use the host's rustup toolchain: none in $HOST_RUSTUP_HOME and $HOST_CARGO_HOME"
        MIRROR=$(detect_mirror)
        say "chroots in $MATRIX_DIR, mirror $MIRROR"
    fi

    local start=$SECONDS
    for leg in "${legs[@]}"; do run_leg "$leg"; done
    echo
    echo "matrix ($(fmt_time $((SECONDS - start)))):"
    printf '  %s\n' "${SUMMARY[@]}"
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    [ "$FAILED_LEGS" -eq 0 ] && [ "$TOTAL_FAILED" -eq 0 ]
}

main "$@"
