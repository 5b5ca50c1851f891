#!/usr/bin/env python3
"""A forward HTTP proxy on loopback for the weixin.proxy tests, counting what
it forwards. Standard library only (Python 3.11+).

  forward_proxy.py --port-file PATH [--auth USER:PASSWORD]

Listens on 127.0.0.1 (a free port, written to PATH once it accepts
connections) and handles, one per connection:

  GET http://host:port/path HTTP/1.1      (absolute form, any method): sent on
      to the origin with "Connection: close" and a "Via: 1.1 forward_proxy"
      header; the reply is relayed, then the connection is closed.
  CONNECT host:port HTTP/1.1              "200 Connection established", then
      bytes are relayed both ways until either side closes.
  GET /__proxy_stats HTTP/1.1             (origin form, addressed to the proxy
      itself; never counted, no credentials needed) JSON:
      {"forwarded": N, "tunnels": N, "refused": N, "failed": N,
       "requests": ["forwarded GET 127.0.0.1:8080/cgi-bin/token",
                    "tunnels CONNECT 127.0.0.1:8443", "refused ...", ...]}
      (paths without their query: token URLs carry the AppSecret).

With --auth, every forwarded request and tunnel needs
"Proxy-Authorization: Basic base64(USER:PASSWORD)"; otherwise the answer is
407 with "Proxy-Authenticate" and the attempt is counted as refused. An
origin that cannot be reached gets 502 (counted as failed).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import socketserver
import sys
import threading
import urllib.parse

MAX_HEAD = 64 * 1024


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = {"forwarded": 0, "tunnels": 0, "refused": 0, "failed": 0}
        self.requests: list[str] = []

    def count(self, what: str, request: str | None = None) -> None:
        with self.lock:
            self.counts[what] += 1
            if request is not None:
                self.requests.append(f"{what} {request}")

    def as_json(self) -> bytes:
        with self.lock:
            return json.dumps({**self.counts, "requests": self.requests}).encode()


class Handler(socketserver.StreamRequestHandler):
    server: "ProxyServer"

    def handle(self) -> None:
        try:
            self.serve_one()
        except OSError:
            pass  # a client or origin that went away: nothing to report

    def read_head(self, stream) -> list[bytes] | None:
        """The request or reply head (start line and headers), without CRLFs."""
        lines, size = [], 0
        while True:
            line = stream.readline(MAX_HEAD)
            size += len(line)
            if not line or size > MAX_HEAD:
                return None
            if line in (b"\r\n", b"\n"):
                return lines
            lines.append(line.rstrip(b"\r\n"))

    def reply(self, status: str, body: bytes = b"", headers: tuple = ()) -> None:
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.wfile.flush()

    def authorized(self, headers: list[bytes]) -> bool:
        if self.server.auth is None:
            return True
        expected = b"basic " + base64.b64encode(self.server.auth.encode())
        for line in headers:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"proxy-authorization":
                scheme, _, token = value.strip().partition(b" ")
                return scheme.lower() + b" " + token.strip() == expected
        return False

    def serve_one(self) -> None:
        head = self.read_head(self.rfile)
        if not head:
            return
        parts = head[0].decode("latin-1").split()
        if len(parts) != 3:
            return self.reply("400 Bad Request")
        method, target, _version = parts
        headers = head[1:]
        stats = self.server.stats
        if method == "GET" and target == "/__proxy_stats":
            return self.reply("200 OK", stats.as_json(), ("Content-Type: application/json",))
        if method == "CONNECT":
            request = f"CONNECT {target}"
        else:
            url = urllib.parse.urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                return self.reply("400 Bad Request", b"not an absolute http:// URL")
            request = f"{method} {url.netloc}{url.path}"
        if not self.authorized(headers):
            stats.count("refused", request)
            return self.reply("407 Proxy Authentication Required", b"proxy authentication required",
                              ('Proxy-Authenticate: Basic realm="forward_proxy"',))
        if method == "CONNECT":
            self.tunnel(target, request)
        else:
            self.forward(method, url, headers, request)

    def connect(self, host: str, port: int, request: str) -> socket.socket | None:
        try:
            return socket.create_connection((host, port), timeout=10)
        except OSError:
            self.server.stats.count("failed", request)
            self.reply("502 Bad Gateway", b"cannot reach the origin")
            return None

    def tunnel(self, target: str, request: str) -> None:
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            return self.reply("400 Bad Request", b"CONNECT host:port")
        origin = self.connect(host.strip("[]"), int(port), request)
        if origin is None:
            return
        self.server.stats.count("tunnels", request)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        origin.settimeout(None)
        # rfile may hold bytes the client sent right after its CONNECT: read1
        # returns those first.
        upstream = threading.Thread(target=self.pipe, args=(lambda: self.rfile.read1(65536), origin), daemon=True)
        upstream.start()
        self.pipe(lambda: origin.recv(65536), self.connection)
        upstream.join()
        origin.close()

    @staticmethod
    def pipe(read, sink: socket.socket) -> None:
        """Copies until the source ends, then ends the sink's direction."""
        try:
            while chunk := read():
                sink.sendall(chunk)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def forward(self, method: str, url: urllib.parse.SplitResult, headers: list[bytes], request: str) -> None:
        origin = self.connect(url.hostname, url.port or 80, request)
        if origin is None:
            return
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        kept, length, chunked = [], 0, False
        for line in headers:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name in (b"proxy-authorization", b"proxy-connection", b"connection", b"keep-alive"):
                continue
            if name == b"content-length":
                length = int(value.strip() or b"0")
            if name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            kept.append(line)
        kept += [b"Connection: close", b"Via: 1.1 forward_proxy"]
        origin.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + b"\r\n".join(kept) + b"\r\n\r\n")
        if chunked:
            self.relay_chunked(origin)
        elif length:
            origin.sendall(self.rfile.read(length))
        self.server.stats.count("forwarded", request)
        replies = origin.makefile("rb")
        reply = self.read_head(replies)
        if reply is None:
            origin.close()
            return self.reply("502 Bad Gateway", b"no reply from the origin")
        # The reply as the origin sent it, but this connection ends with it.
        out = [line for line in reply if line.split(b":", 1)[0].strip().lower() not in (b"connection", b"keep-alive")]
        out.append(b"Connection: close")
        self.wfile.write(b"\r\n".join(out) + b"\r\n\r\n")
        while chunk := replies.read1(65536):
            self.wfile.write(chunk)
        self.wfile.flush()
        origin.close()

    def relay_chunked(self, origin: socket.socket) -> None:
        while True:
            line = self.rfile.readline(1024)
            origin.sendall(line)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := self.rfile.readline(8192)) not in (b"\r\n", b"\n", b""):
                    origin.sendall(trailer)
                origin.sendall(b"\r\n")
                return
            origin.sendall(self.rfile.read(size + 2))


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, auth: str | None) -> None:
        self.auth = auth
        self.stats = Stats()
        super().__init__(("127.0.0.1", 0), Handler)

    def handle_error(self, request, client_address) -> None:
        print(f"forward_proxy: {sys.exc_info()[1]!r}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port-file", required=True, help="the bound port is written here (atomically)")
    parser.add_argument("--auth", help="USER:PASSWORD the clients must send (Basic)")
    args = parser.parse_args()
    server = ProxyServer(args.auth)
    tmp = f"{args.port_file}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, args.port_file)  # readers never see a partial file
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
