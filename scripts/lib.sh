# Shared by scripts/demo.sh, scripts/test.sh and .ci/run: installs what is
# missing, builds the extension, and starts throwaway services on free
# loopback ports (stopped again when the calling script exits).
#
# The PHP is the one PHP_CONFIG names (a php-config), else php-config on the
# PATH, else Debian's PHP of this release (8.2 on Debian 12), installed if
# missing. Its php-config gives the version, the binary, the extension dir,
# run-tests.php and php-fpm. A Debian-packaged PHP (prefix /usr) gets its
# php$V-* packages installed; a PHP built from source only the rest.
# CARGO_TARGET_DIR, if set, is where the extension is built.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
    export CARGO_TARGET_DIR
fi
EXT="${CARGO_TARGET_DIR:-$ROOT/target}/release/libweixin.so"
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/weixin-run.XXXXXX")
SERVICE_PIDS=()

cleanup() {
    for pid in "${SERVICE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

say() { printf '==> %s\n' "$*" >&2; }

# Debian packages besides PHP: memcached, clang for bindgen, openssl for test
# certs, nginx and wrk to load php-fpm like production, faketime for clock
# skew. Scripts may append to it before ensure_deps (test.sh --valgrind does).
APT_PACKAGES=(memcached libclang-dev clang python3 openssl ca-certificates
              nginx-light wrk make faketime nutcracker)

# Set by ensure_deps: the PHP in use, exported for cargo (ext-php-rs reads PHP
# and PHP_CONFIG) and for the tests (WEIXIN_TEST_FPM).
PHP=""            # its CLI binary
PHP_VER=""        # major.minor
PHP_PREFIX=""     # /usr for Debian's packages
PHP_EXT_DIR=""    # php-config --extension-dir
PHP_API=""        # "PHP API" of php -i, e.g. 20220829
RUN_TESTS=""      # its run-tests.php, if one was found
PHP_FPM=""        # its php-fpm, if one was found
PHP_DEBIAN=""     # 1 for a Debian-packaged PHP
PHP_MISSING=()    # optional php$V-* packages Debian does not have (tests needing them skip)

# Debian's PHP of this release, for a machine without php-config.
debian_default_php() {
    local codename
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true
    case $codename in
        trixie) echo 8.4 ;;
        *) echo 8.2 ;; # bookworm, and anything unknown: what the project was made on
    esac
}

# Decides which PHP: sets PHP_CONFIG, PHP_VER, PHP_PREFIX and PHP_DEBIAN. A
# PHP_CONFIG that does not exist yet but is named like Debian's
# (/usr/bin/php-configX.Y) is installed from Debian's packages.
choose_php() {
    local config=${PHP_CONFIG:-}
    if [ -z "$config" ]; then
        config=$(command -v php-config || true)
        [ -n "$config" ] || config=/usr/bin/php-config$(debian_default_php)
    fi
    case $config in /*) ;; */*) config="$PWD/$config" ;; esac
    if command -v "$config" >/dev/null; then
        PHP_CONFIG=$(command -v "$config")
        PHP_VER=$("$PHP_CONFIG" --version | cut -d. -f1,2)
        PHP_PREFIX=$("$PHP_CONFIG" --prefix)
        [ "$PHP_PREFIX" = /usr ] && PHP_DEBIAN=1 || PHP_DEBIAN=""
    elif [[ $config =~ ^/usr/bin/php-config([0-9]+\.[0-9]+)$ ]]; then
        PHP_CONFIG=$config PHP_VER=${BASH_REMATCH[1]} PHP_PREFIX=/usr PHP_DEBIAN=1
    else
        say "PHP_CONFIG=$config: no such php-config"; exit 1
    fi
}

# Both read the command's whole output before matching: `cmd | grep -q`
# under pipefail fails when grep exits at its first match and cmd dies of
# SIGPIPE (apt-cache policy did, so every optional package read as missing).
installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = "install ok installed" ]
}

# Whether apt can install $1 (after apt-get update): a candidate, not "(none)".
installable() {
    local policy
    policy=$(LC_ALL=C apt-cache policy "$1" 2>/dev/null) || return 1
    grep -q 'Candidate: [^(]' <<<"$policy"
}

ensure_deps() {
    choose_php
    local required=("${APT_PACKAGES[@]}") optional=()
    if [ -n "$PHP_DEBIAN" ]; then
        required+=("php$PHP_VER-cli" "php$PHP_VER-dev" "php$PHP_VER-curl" "php$PHP_VER-fpm")
        # The PECL clients, for interop tests only; unless this PHP has them already.
        local binary=/usr/bin/php$PHP_VER
        [ -x "$binary" ] && "$binary" -r 'exit(class_exists("Memcache") ? 0 : 1);' 2>/dev/null \
            || optional+=("php$PHP_VER-memcache")
        [ -x "$binary" ] && "$binary" -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>/dev/null \
            || optional+=("php$PHP_VER-memcached")
    fi
    local missing=() unsure=() pkg
    for pkg in "${required[@]}"; do installed "$pkg" || missing+=("$pkg"); done
    for pkg in "${optional[@]}"; do
        installed "$pkg" && continue
        # Known to apt already, or worth an update because more is missing.
        if installable "$pkg" || ((${#missing[@]})); then unsure+=("$pkg"); else PHP_MISSING+=("$pkg"); fi
    done
    if ((${#missing[@]} + ${#unsure[@]})); then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        for pkg in "${unsure[@]}"; do
            if installable "$pkg"; then missing+=("$pkg"); else PHP_MISSING+=("$pkg"); fi
        done
        if ((${#missing[@]})); then
            say "installing ${missing[*]}"
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        fi
    fi
    if ((${#PHP_MISSING[@]})); then
        say "not in Debian's archive: ${PHP_MISSING[*]} (optional: the tests that need it skip)"
    fi
    command -v cargo >/dev/null || { say "cargo not found: install Rust (https://rustup.rs)"; exit 1; }
    php_details
}

# Reads what the chosen PHP's php-config and php -i say (after installing).
php_details() {
    [ -x "$PHP_CONFIG" ] || { say "$PHP_CONFIG not found"; exit 1; }
    PHP=$("$PHP_CONFIG" --php-binary)
    [ -x "$PHP" ] || { say "$PHP_CONFIG names $PHP as its PHP, which is not there"; exit 1; }
    PHP_EXT_DIR=$("$PHP_CONFIG" --extension-dir)
    PHP_API=$("$PHP" -n -i | sed -n 's/^PHP API => //p')
    RUN_TESTS=""
    # Debian: /usr/lib/php/<api>/build (its extension dir's build/); upstream:
    # <prefix>/lib/php/build.
    local candidate candidates=("$PHP_EXT_DIR/build/run-tests.php" "$PHP_PREFIX/lib/php/build/run-tests.php")
    [ -z "$PHP_DEBIAN" ] || [ -z "$PHP_API" ] || candidates+=("/usr/lib/php/$PHP_API/build/run-tests.php")
    for candidate in "${candidates[@]}"; do
        [ -f "$candidate" ] && { RUN_TESTS=$candidate; break; }
    done
    PHP_FPM=""
    for candidate in "$PHP_PREFIX/sbin/php-fpm$PHP_VER" "$PHP_PREFIX/sbin/php-fpm"; do
        [ -x "$candidate" ] && { PHP_FPM=$candidate; break; }
    done
    export PHP PHP_CONFIG
    if [ -n "$PHP_FPM" ]; then export WEIXIN_TEST_FPM=$PHP_FPM; else unset WEIXIN_TEST_FPM; fi
    say "PHP $("$PHP" -n -r 'echo PHP_VERSION, PHP_ZTS ? " ZTS" : " NTS", PHP_DEBUG ? " debug" : "";') ($PHP_CONFIG)"
}

build_ext() {
    say "building the extension (release) into ${EXT%/release/*}"
    (cd "$ROOT" && PHP="$PHP" PHP_CONFIG="$PHP_CONFIG" cargo build --release --quiet)
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # host port
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.05
    done
    say "nothing listens on $1:$2"; return 1
}

# start_memcached VAR: starts memcached, sets VAR to its port.
start_memcached() {
    local port; port=$(free_port)
    local user=(); [ "$(id -u)" -eq 0 ] && user=(-u root)
    memcached -l 127.0.0.1 -p "$port" -U 0 -m 64 -c 4096 "${user[@]}" &
    SERVICE_PIDS+=($!)
    wait_port 127.0.0.1 "$port"
    printf -v "$1" '%s' "$port"
}

# start_twemproxy VAR BACKEND_PORT: starts twemproxy (Debian's nutcracker) in
# front of the memcached on BACKEND_PORT, sets VAR to its port. The same
# configuration as php-tests/helpers.inc start_twemproxy().
start_twemproxy() {
    command -v nutcracker >/dev/null || { say "nutcracker not found"; return 1; }
    local port; port=$(free_port)
    local dir="$RUN_DIR/twemproxy.$port"
    mkdir "$dir"
    printf 'weixin:\n  listen: 127.0.0.1:%s\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 1000\n  auto_eject_hosts: false\n  servers:\n   - 127.0.0.1:%s:1\n' \
        "$port" "$2" >"$dir/nutcracker.yml"
    nutcracker -c "$dir/nutcracker.yml" -s "$(free_port)" -a 127.0.0.1 -p "$dir/nutcracker.pid" \
        -o "$dir/nutcracker.log" >/dev/null 2>&1 &
    SERVICE_PIDS+=($!)
    wait_port 127.0.0.1 "$port" || { say "nutcracker: $(cat "$dir/nutcracker.log" 2>/dev/null)"; return 1; }
    printf -v "$1" '%s' "$port"
}

# start_standin VAR [--tls-cert C --tls-key K]: starts the WeChat stand-in.
start_standin() {
    local var=$1; shift
    local port_file="$RUN_DIR/standin.$RANDOM.port"
    python3 "$ROOT/scripts/wechat_standin.py" --port 0 --port-file "$port_file" "$@" >/dev/null &
    SERVICE_PIDS+=($!)
    for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.05; done
    [ -s "$port_file" ] || { say "the WeChat stand-in did not start"; return 1; }
    printf -v "$var" '%s' "$(cat "$port_file")"
}

# make_test_cert DIR: a self-signed certificate for 127.0.0.1/localhost.
make_test_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" -days 2 \
        -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}
