# Shared by scripts/demo.sh, scripts/test.sh and .ci/run: installs what is
# missing, builds the extension, and starts throwaway services on free
# loopback ports (stopped again when the calling script exits).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXT="$ROOT/target/release/libweixin.so"
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/weixin-run.XXXXXX")
SERVICE_PIDS=()

cleanup() {
    for pid in "${SERVICE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

say() { printf '==> %s\n' "$*" >&2; }

# Debian 12 packages: PHP 8.2 (headers for bindgen, the PECL memcache client
# for interop tests, FPM), memcached, clang for bindgen, openssl for test certs,
# nginx and wrk to load php-fpm like production.
APT_PACKAGES=(php8.2-cli php8.2-dev php8.2-memcache php8.2-curl php8.2-fpm
              memcached libclang-dev clang python3 openssl ca-certificates
              nginx-light wrk make faketime)

ensure_deps() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    command -v cargo >/dev/null || { say "cargo not found: install Rust (https://rustup.rs)"; exit 1; }
}

build_ext() {
    say "building the extension (release)"
    (cd "$ROOT" && cargo build --release --quiet)
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
