#!/usr/bin/env python3
"""Local stand-in for the WeChat Official Account API (tests and demo).

Implements the token endpoints with the real API's key properties (a new plain
token invalidates the previous one; stable tokens are separate and survive a
forced refresh for a grace period), a few APIs that check tokens, an echo
endpoint and an admin control plane through which tests script failures,
delays and expiry.  Standard library only (Python 3.11+).

Usage:
  python3 wechat_standin.py [--host 127.0.0.1] [--port 0] [--port-file PATH]
                            [--tls-cert CERT.pem --tls-key KEY.pem]
                            [--log PATH] [--stable-grace SECONDS]

Endpoints (JSON replies, HTTP 200 unless stated):
  GET  /cgi-bin/token?grant_type=client_credential&appid=..&secret=..
  POST /cgi-bin/stable_token        {"grant_type","appid","secret","force_refresh"}
  GET  /cgi-bin/ticket/getticket?access_token=..&type=jsapi|wx_card
                                    (a new ticket on every call; the previous
                                    one stays valid until it expires)
  GET  /cgi-bin/getcallbackip?access_token=..
  POST /cgi-bin/message/template/send?access_token=..     (JSON body)
  POST /cgi-bin/media/upload?access_token=..&type=image   (multipart, part "media")
  ANY  /__echo...[?delay_ms=N][&status=N]                 (echoes the request)
       [&reply=JSON]                                      (answers JSON instead, as
                                                          an API would: e.g. an errcode)
  GET  /__bytes?size=N[&chunked=1]                         (N bytes: byte i is i % 251,
                                                          with Content-Length, or chunked
                                                          without one; a media download)
  /__admin/health | reset[?appid=] | configure?appid=..&.. | stats?appid= |
  expire?appid= | release?appid= | await_held?appid=..[&count=1][&timeout=10]
                  (configure: delay_ms, expires_in, secret, errcode, errmsg,
  http_status, body, content_type, times for token requests; ticket_errcode
  with ticket_failures (default 1) for ticket requests; hold=1: token
  requests (both endpoints) wait, unanswered, until release; ticket_hold=1:
  ticket requests likewise; clear=1)
  (release: lets every request held for the appid go on and holds no more;
  await_held: answers once `count` requests are held (or after `timeout`
  seconds), with the stats. stats: held (waiting now), held_total,
  hold_abandoned (the client hung up while held: it stopped waiting))
  anything else: 404 {"errcode":-1,"errmsg":"system error"}
"""

from __future__ import annotations

import argparse
import email.message
import email.utils
import hashlib
import http
import http.server
import json
import os
import re
import secrets
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

JSON_CTYPE = "application/json; encoding=utf-8"  # exactly what WeChat sends
HTML_CTYPE = "text/html; charset=utf-8"
DEFAULT_EXPIRES_IN = 7200
MAX_BODY = 64 * 1024 * 1024
BYTES_SLICE = 1 << 20            # /__bytes writes this much at a time
MEDIA_TYPES = ("image", "voice", "video", "thumb")

APPID_RE = re.compile(r"wx[0-9A-Za-z]{16}")
SECRET_RE = re.compile(r"[0-9A-Za-z]{32}")

# Default errmsgs for configured errcodes when the test gives no errmsg.
KNOWN_ERRORS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40125: "invalid appsecret",
    40164: "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
    41001: "access_token missing",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    89503: "此IP调用需要管理员确认,请联系管理员",
}


def rid() -> str:
    """Random request id like the one WeChat appends to every errmsg."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def wx_error(code: int, msg: str | None = None) -> dict:
    if msg is None:
        msg = KNOWN_ERRORS.get(code, "error")
    return {"errcode": code, "errmsg": f"{msg} rid: {rid()}"}


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

@dataclass
class Behaviour:
    """Scripted behaviour of token requests for one appid."""
    delay_ms: int = 0
    expires_in: int = DEFAULT_EXPIRES_IN
    secret: str | None = None          # if set, the only accepted secret
    # Failure mode: active when any of errcode / http_status / body is set.
    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    body: str | None = None
    content_type: str | None = None
    times: int | None = None           # None = unlimited
    hold: bool = False                 # token requests wait until released

    def failure_active(self) -> bool:
        return (self.errcode is not None or self.http_status is not None
                or self.body is not None)

    def clear_failure(self) -> None:
        self.errcode = self.errmsg = self.http_status = None
        self.body = self.content_type = None
        self.times = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TokenRecord:
    token: str
    appid: str
    kind: str                          # "plain" or "stable"
    expires_at: float
    superseded: bool = False
    grace_until: float = 0.0           # stable only: valid until then once superseded


@dataclass
class AppState:
    token_calls: int = 0
    stable_calls: int = 0
    force_refresh_calls: int = 0
    in_flight: int = 0
    in_flight_max: int = 0
    plain_issued: int = 0
    stable_issued: int = 0
    api_calls: int = 0
    api_rejected: int = 0
    ticket_calls: dict = field(default_factory=dict)      # type -> calls
    tickets: dict = field(default_factory=dict)           # type -> current ticket
    # The next `ticket_failures` ticket requests answer `ticket_errcode`.
    ticket_errcode: int | None = None
    ticket_failures: int = 0
    # Held requests (hold=1, ticket_hold=1): waiting now, ever, and those
    # whose client hung up while held; `release_gen` changes on each release.
    ticket_hold: bool = False
    held: int = 0
    held_total: int = 0
    hold_abandoned: int = 0
    release_gen: int = 0
    current: TokenRecord | None = None
    current_stable: TokenRecord | None = None
    records: list = field(default_factory=list)
    behaviour: Behaviour = field(default_factory=Behaviour)


class Store:
    """All mutable state; every access goes through self.lock."""

    def __init__(self, stable_grace: float):
        self.lock = threading.Lock()
        # Held requests wait on it (with self.lock) for a release.
        self.released = threading.Condition(self.lock)
        self.stable_grace = stable_grace
        self.apps: dict[str, AppState] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.msgid = 3000000000

    # -- helpers; caller holds the lock --------------------------------------
    def app(self, appid: str) -> AppState:
        st = self.apps.get(appid)
        if st is None:
            st = self.apps[appid] = AppState()
        return st

    def issue(self, appid: str, st: AppState, kind: str) -> TokenRecord:
        while True:  # 128 random chars; the loop only guarantees uniqueness
            tok = secrets.token_urlsafe(96)
            if tok not in self.tokens:
                break
        rec = TokenRecord(tok, appid, kind,
                          time.time() + st.behaviour.expires_in)
        self.tokens[tok] = rec
        st.records.append(rec)
        if kind == "plain":
            if st.current is not None:
                st.current.superseded = True   # the real API's key property
            st.current = rec
            st.plain_issued += 1
        else:
            old = st.current_stable
            if old is not None:
                old.superseded = True
                old.grace_until = time.time() + self.stable_grace
            st.current_stable = rec
            st.stable_issued += 1
        return rec

    # -- operations -----------------------------------------------------------
    def check_token(self, token: str | None) -> dict | None:
        """None if the token is usable, else the WeChat error reply."""
        if not token:
            return wx_error(41001)
        with self.lock:
            rec = self.tokens.get(token)
            if rec is None:
                return wx_error(40001)
            st = self.app(rec.appid)
            st.api_calls += 1
            now = time.time()
            if rec.superseded and (rec.kind == "plain" or now >= rec.grace_until):
                st.api_rejected += 1
                return wx_error(40001)
            if now >= rec.expires_at:
                st.api_rejected += 1
                return wx_error(42001)
            return None

    def ticket(self, token: str, kind: str) -> dict:
        """The reply to a ticket request made with a valid token."""
        with self.lock:
            st = self.app(self.tokens[token].appid)
            st.ticket_calls[kind] = st.ticket_calls.get(kind, 0) + 1
            if st.ticket_failures > 0 and st.ticket_errcode is not None:
                st.ticket_failures -= 1
                return wx_error(st.ticket_errcode)
            ticket = secrets.token_urlsafe(64)
            st.tickets[kind] = ticket
            return {"errcode": 0, "errmsg": "ok", "ticket": ticket,
                    "expires_in": st.behaviour.expires_in}

    def next_msgid(self) -> int:
        with self.lock:
            self.msgid += 1
            return self.msgid

    def reset(self, appid: str | None) -> None:
        with self.lock:
            if appid is None:
                self.apps.clear()
                self.tokens.clear()
                return
            st = self.apps.pop(appid, None)
            if st is not None:
                for rec in st.records:
                    self.tokens.pop(rec.token, None)

    def release(self, appid: str) -> int:
        """Lets the appid's held requests go on; holds no more. How many."""
        with self.lock:
            st = self.app(appid)
            st.behaviour.hold = False
            st.ticket_hold = False
            st.release_gen += 1
            self.released.notify_all()
            return st.held

    def await_held(self, appid: str, count: int, timeout: float) -> bool:
        """Waits until `count` requests of the appid are held."""
        deadline = time.monotonic() + timeout
        with self.lock:
            st = self.app(appid)
            while st.held < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.released.wait(left)
            return True

    def expire(self, appid: str) -> int:
        now = time.time()
        n = 0
        with self.lock:
            st = self.apps.get(appid)
            for rec in (st.records if st else ()):
                if rec.expires_at > now:
                    rec.expires_at = now - 0.001
                    n += 1
        return n

    def stats(self, appid: str) -> dict:
        now = time.time()
        with self.lock:
            st = self.apps.get(appid) or AppState()
            cur, stab = st.current, st.current_stable
            return {
                "token_calls": st.token_calls,
                "stable_calls": st.stable_calls,
                "force_refresh_calls": st.force_refresh_calls,
                "in_flight": st.in_flight,
                "in_flight_max": st.in_flight_max,
                "current_token": cur.token if cur else None,
                "current_stable_token": stab.token if stab else None,
                "tokens_issued": st.plain_issued + st.stable_issued,
                # extras
                "plain_tokens_issued": st.plain_issued,
                "stable_tokens_issued": st.stable_issued,
                "api_calls": st.api_calls,
                "api_rejected": st.api_rejected,
                "ticket_calls": dict(st.ticket_calls),
                "held": st.held,
                "held_total": st.held_total,
                "hold_abandoned": st.hold_abandoned,
                "current_tickets": dict(st.tickets),
                "current_token_expires_in":
                    round(cur.expires_at - now, 3) if cur else None,
                "current_stable_token_expires_in":
                    round(stab.expires_at - now, 3) if stab else None,
                "behaviour": st.behaviour.as_dict(),
            }


# --------------------------------------------------------------------------
# Multipart parsing (binary safe; the cgi module is deprecated)
# --------------------------------------------------------------------------

def header_params(name: str, value: str) -> email.message.Message:
    """Parse a header with parameters (quoting, RFC 2231) via the email package."""
    m = email.message.Message()
    m[name] = value
    return m


def parse_multipart(body: bytes, content_type: str) -> list[dict] | None:
    """Return [{name, filename, content_type, headers, data}] or None if the
    content type is not multipart/* with a boundary."""
    ct = header_params("Content-Type", content_type)
    if ct.get_content_maintype() != "multipart":
        return None
    boundary = ct.get_boundary()
    if not boundary:
        return None
    delim = b"--" + boundary.encode("latin-1", "replace")
    parts: list[dict] = []
    pos = body.find(delim)
    if pos < 0:
        return parts
    pos += len(delim)
    while not body.startswith(b"--", pos):          # "--" marks the close delimiter
        eol = body.find(b"\r\n", pos)                 # skip transport padding
        if eol < 0:
            break
        start = eol + 2
        end = body.find(b"\r\n" + delim, start)
        if end < 0:
            break
        parts.append(_parse_part(body[start:end]))
        pos = end + 2 + len(delim)
    return parts


def _parse_part(raw: bytes) -> dict:
    if raw.startswith(b"\r\n"):
        head, data = b"", raw[2:]
    else:
        idx = raw.find(b"\r\n\r\n")
        head, data = (raw, b"") if idx < 0 else (raw[:idx], raw[idx + 4:])
    headers: dict[str, str] = {}
    last = None
    for line in head.decode("utf-8", "replace").split("\r\n"):
        if line[:1] in (" ", "\t") and last:          # folded header line
            headers[last] += " " + line.strip()
        elif ":" in line:
            k, v = line.split(":", 1)
            last = k.strip().lower()
            headers[last] = v.strip()
    name = filename = None
    if "content-disposition" in headers:
        cd = header_params("Content-Disposition", headers["content-disposition"])
        name = cd.get_param("name", header="content-disposition")
        if name is not None:
            name = email.utils.collapse_rfc2231_value(name)
        filename = cd.get_filename()
    return {"name": name, "filename": filename,
            "content_type": headers.get("content-type"),
            "headers": headers, "data": data}


# --------------------------------------------------------------------------
# HTTP handling
# --------------------------------------------------------------------------

class BadRequest(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive; every reply has Content-Length
    server_version = "wechat-standin"
    disable_nagle_algorithm = True      # headers and body go out as separate writes
    timeout = 120                       # drop idle keep-alive connections eventually

    server: "StandinServer"

    # -- plumbing ---------------------------------------------------------------
    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        # TLS handshake happens here, in the connection's own thread, so a slow
        # or broken client cannot stall the accept loop.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def __getattr__(self, name: str):
        # Route every method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ...)
        # to one dispatcher; BaseHTTPRequestHandler looks up do_<METHOD>.
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def log_message(self, format, *args) -> None:
        pass  # silent; log_request writes the only (query-free) log lines

    def log_request(self, code="-", size="-") -> None:
        # Only method, path and status: the query string carries secrets.
        path = (self.path or "").split("?", 1)[0] if hasattr(self, "path") else ""
        try:
            code = int(code)
        except (TypeError, ValueError):
            pass
        self.server.log_line(f"{self.command or '-'} {path or '-'} {code}")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if n < 0 or n > MAX_BODY:
            raise BadRequest("bad Content-Length")
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest("short body")
        return data

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk")
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass                                  # skip trailers
                return bytes(out)
            if len(out) + size > MAX_BODY:
                raise BadRequest("body too large")
            out += self.rfile.read(size)
            self.rfile.readline(8)                        # CRLF after chunk

    def reply_raw(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        no_body = status in (204, 304)
        if not no_body:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not no_body and self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, obj, status: int = 200) -> None:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        self.reply_raw(status, body.encode("utf-8"), JSON_CTYPE)

    # -- held requests -----------------------------------------------------------
    def client_gone(self) -> bool:
        """Whether the client hung up (a plain-HTTP connection readable with
        nothing to read); a TLS connection is never taken for gone."""
        sock = self.connection
        if isinstance(sock, ssl.SSLSocket):
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def hold_here(self, st: AppState) -> bool:
        """Waits, unanswered, until the appid's requests are released: True;
        False if the client hung up meanwhile (it is then not answered)."""
        store = self.server.store
        with store.lock:
            generation = st.release_gen
            st.held += 1
            st.held_total += 1
            store.released.notify_all()
        try:
            while True:
                with store.lock:
                    if st.release_gen != generation:
                        return True
                    store.released.wait(0.05)
                if self.client_gone():
                    with store.lock:
                        st.hold_abandoned += 1
                    self.close_connection = True
                    return False
        finally:
            with store.lock:
                st.held -= 1
                store.released.notify_all()

    # -- dispatch ---------------------------------------------------------------
    def dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            self.body = self.read_body()
        except (BadRequest, ValueError) as e:
            self.close_connection = True
            self.reply_json({"errcode": -1, "errmsg": f"bad request: {e}"}, 400)
            return
        self.q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        self.req_path = path
        try:
            if path.startswith("/__echo"):
                self.h_echo(query)
            elif path == "/__bytes":
                self.h_bytes()
            elif path.startswith("/__admin/"):
                self.h_admin(path[len("/__admin/"):])
            else:
                route = ROUTES.get(path)
                if route is None:
                    self.reply_json({"errcode": -1, "errmsg": "system error"}, 404)
                else:
                    route(self)
        except BadRequest as e:
            self.reply_json({"ok": False, "error": str(e)}, 400)

    def int_param(self, params: dict, name: str, lo: int | None = None,
                  hi: int | None = None) -> int | None:
        if name not in params:
            return None
        try:
            v = int(params[name])
        except ValueError:
            raise BadRequest(f"{name} must be an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise BadRequest(f"{name} out of range")
        return v

    # -- token endpoints --------------------------------------------------------
    def h_token(self) -> None:
        q = self.q
        self.token_common("plain", q.get("grant_type"), q.get("appid", ""),
                          q.get("secret"), False)

    def h_stable_token(self) -> None:
        try:
            req = json.loads(self.body.decode("utf-8"))
            if not isinstance(req, dict):
                raise ValueError
        except ValueError:
            # Still counted, like any other failed call.
            with self.server.store.lock:
                self.server.store.app(self.q.get("appid", "")).stable_calls += 1
            self.reply_json(wx_error(47001))
            return
        force = req.get("force_refresh", False)
        force = force is True or str(force).lower() in ("true", "1")
        self.token_common("stable", req.get("grant_type"), str(req.get("appid") or ""),
                          req.get("secret"), force)

    def token_common(self, kind: str, grant_type, appid: str, secret,
                     force: bool) -> None:
        store = self.server.store
        with store.lock:
            st = store.app(appid)
            if kind == "plain":
                st.token_calls += 1
            else:
                st.stable_calls += 1
                st.force_refresh_calls += force
            st.in_flight += 1
            st.in_flight_max = max(st.in_flight_max, st.in_flight)
            delay = st.behaviour.delay_ms
            hold = st.behaviour.hold
        try:
            if hold and not self.hold_here(st):
                return                            # nobody waits for the reply
            if delay:
                time.sleep(delay / 1000.0)
            reply = self.token_decide(st, kind, grant_type, appid, secret, force)
        finally:
            # Leave in-flight *before* replying: a client that serialises its
            # requests must never be seen as overlapping with itself.
            with store.lock:
                st.in_flight -= 1
        status, body, ctype = reply
        self.reply_raw(status, body, ctype)

    def token_decide(self, st: AppState, kind, grant_type, appid, secret, force):
        def js(obj):
            return 200, json.dumps(obj, separators=(",", ":")).encode(), JSON_CTYPE

        if grant_type != "client_credential":
            return js(wx_error(40002))
        if not (isinstance(appid, str) and APPID_RE.fullmatch(appid)):
            return js(wx_error(40013))
        if not (isinstance(secret, str) and SECRET_RE.fullmatch(secret)):
            return js(wx_error(40125))
        store = self.server.store
        with store.lock:
            b = st.behaviour
            if b.secret is not None and secret != b.secret:
                return js(wx_error(40125))
            if b.failure_active():
                if b.times is not None:
                    b.times -= 1
                    if b.times <= 0:
                        fail = Behaviour(**b.as_dict())
                        b.clear_failure()
                        b = fail
                return self.failure_reply(b)
            now = time.time()
            if kind == "plain":
                rec = store.issue(appid, st, "plain")
            else:
                rec = st.current_stable
                if force or rec is None or rec.expires_at - now < 1:
                    rec = store.issue(appid, st, "stable")
            expires_in = max(0, int(rec.expires_at - now + 0.5))
            return js({"access_token": rec.token, "expires_in": expires_in})

    @staticmethod
    def failure_reply(b: Behaviour):
        status = b.http_status or 200
        if b.body is not None:
            ctype = b.content_type or (JSON_CTYPE if status == 200 else HTML_CTYPE)
            return status, b.body.encode("utf-8"), ctype
        if b.errcode is not None:
            err = ({"errcode": b.errcode, "errmsg": b.errmsg}
                   if b.errmsg is not None else wx_error(b.errcode))
            body = json.dumps(err, ensure_ascii=False, separators=(",", ":"))
            return status, body.encode("utf-8"), b.content_type or JSON_CTYPE
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        page = (f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n"
                f"<body>\r\n<center><h1>{status} {phrase}</h1></center>\r\n"
                f"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
        return status, page.encode(), b.content_type or HTML_CTYPE

    # -- APIs that check tokens -------------------------------------------------
    def h_callbackip(self) -> None:
        err = self.server.store.check_token(self.q.get("access_token"))
        self.reply_json(err or {"ip_list": ["127.0.0.1"]})

    def h_getticket(self) -> None:
        token = self.q.get("access_token")
        err = self.server.store.check_token(token)
        if err:
            return self.reply_json(err)
        kind = self.q.get("type", "")
        if kind not in ("jsapi", "wx_card"):
            return self.reply_json(wx_error(40097, "invalid args"))
        store = self.server.store
        with store.lock:
            st = store.app(store.tokens[token].appid)
            hold = st.ticket_hold
        if hold and not self.hold_here(st):
            return                                # nobody waits for the reply
        self.reply_json(store.ticket(token, kind))

    def h_template_send(self) -> None:
        err = self.server.store.check_token(self.q.get("access_token"))
        if err:
            return self.reply_json(err)
        try:
            if not isinstance(json.loads(self.body.decode("utf-8")), dict):
                raise ValueError
        except ValueError:
            return self.reply_json(wx_error(47001))
        self.reply_json({"errcode": 0, "errmsg": "ok",
                         "msgid": self.server.store.next_msgid()})

    def h_media_upload(self) -> None:
        err = self.server.store.check_token(self.q.get("access_token"))
        if err:
            return self.reply_json(err)
        mtype = self.q.get("type", "")
        if mtype not in MEDIA_TYPES:
            return self.reply_json(wx_error(40004, "invalid media type"))
        parts = parse_multipart(self.body, self.headers.get("Content-Type", "")) or []
        media = next((p for p in parts if p["name"] == "media"), None)
        if media is None:
            return self.reply_json(wx_error(41005, "media data missing"))
        data = media["data"]
        self.reply_json({
            "type": mtype,
            "media_id": secrets.token_urlsafe(48),
            "created_at": int(time.time()),
            "x_filename": media["filename"],
            "x_size": len(data),
            "x_md5": hashlib.md5(data).hexdigest(),
            "x_content_type": media["content_type"],
        })

    # -- echo ---------------------------------------------------------------------
    def h_echo(self, raw_query: str) -> None:
        delay = self.int_param(self.q, "delay_ms", 0, 3600_000)
        status = self.int_param(self.q, "status", 200, 599) or 200
        if delay:
            time.sleep(delay / 1000.0)
        if "reply" in self.q:
            return self.reply_raw(status, self.q["reply"].encode("utf-8"), JSON_CTYPE)
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        body = self.body
        ctype = self.headers.get("Content-Type", "")
        form = None
        if ctype.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                               keep_blank_values=True))
        parts = parse_multipart(body, ctype) if ctype else None
        if parts is not None:
            parts = [{"name": p["name"], "filename": p["filename"],
                      "content_type": p["content_type"], "size": len(p["data"]),
                      "md5": hashlib.md5(p["data"]).hexdigest(),
                      "text": (p["data"].decode("utf-8", "replace")
                               if len(p["data"]) <= 4096 else None)}
                     for p in parts]
        self.reply_json({
            "method": self.command,
            "path": self.req_path,
            "query": self.q,
            "query_raw": raw_query,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "body_md5": hashlib.md5(body).hexdigest(),
            "body_len": len(body),
            "form": form,
            "parts": parts,
            "tls": isinstance(self.request, ssl.SSLSocket),
        }, status)

    # -- a large reply -------------------------------------------------------------
    def h_bytes(self) -> None:
        size = self.int_param(self.q, "size", 0, 1 << 31)
        if size is None:
            raise BadRequest("size is required")
        chunked = self.q.get("chunked") not in (None, "", "0")
        block = bytes(range(251)) * (BYTES_SLICE // 251 + 2)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        try:
            while sent < size:
                # A slice starts where the pattern stands at `sent`.
                start = sent % 251
                piece = block[start:start + min(BYTES_SLICE, size - sent)]
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped reading (a reply over its limit).
            self.close_connection = True

    # -- admin --------------------------------------------------------------------
    def h_admin(self, op: str) -> None:
        params = dict(self.q)
        if self.headers.get("Content-Type", "").lower().startswith(
                "application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        store = self.server.store
        appid = params.get("appid")
        if op == "health":
            return self.reply_json({"ok": True, "tls": self.server.tls,
                                    "pid": os.getpid()})
        if op == "reset":
            store.reset(appid)
            return self.reply_json({"ok": True})
        if op not in ("configure", "stats", "expire", "release", "await_held"):
            return self.reply_json({"errcode": -1, "errmsg": "system error"}, 404)
        if appid is None:
            raise BadRequest("appid is required")
        if op == "stats":
            return self.reply_json(store.stats(appid))
        if op == "expire":
            return self.reply_json({"ok": True, "expired": store.expire(appid)})
        if op == "release":
            return self.reply_json({"ok": True, "released": store.release(appid)})
        if op == "await_held":
            count = self.int_param(params, "count", 1) or 1
            timeout = self.int_param(params, "timeout", 0, 600)
            held = store.await_held(appid, count, 10 if timeout is None else timeout)
            return self.reply_json({"ok": held, **store.stats(appid)})
        self.configure(appid, params)

    def configure(self, appid: str, p: dict) -> None:
        ip = self.int_param
        delay_ms = ip(p, "delay_ms", 0, 3600_000)
        expires_in = ip(p, "expires_in", 0)
        errcode = ip(p, "errcode")
        http_status = ip(p, "http_status", 200, 599)
        times = ip(p, "times", 0)
        ticket_errcode = ip(p, "ticket_errcode")
        ticket_failures = ip(p, "ticket_failures", 0)
        hold = ip(p, "hold", 0, 1)
        ticket_hold = ip(p, "ticket_hold", 0, 1)
        store = self.server.store
        with store.lock:
            if ticket_errcode is not None:
                store.app(appid).ticket_errcode = ticket_errcode
                store.app(appid).ticket_failures = 1 if ticket_failures is None else ticket_failures
            b = store.app(appid).behaviour
            if p.get("clear") not in (None, "", "0"):
                b.__init__()                         # back to normal
            if hold is not None:
                b.hold = bool(hold)
            if ticket_hold is not None:
                store.app(appid).ticket_hold = bool(ticket_hold)
            if delay_ms is not None:
                b.delay_ms = delay_ms
            if expires_in is not None:
                b.expires_in = expires_in
            if "secret" in p:
                b.secret = p["secret"] or None
            if errcode is not None or http_status is not None or "body" in p:
                # A new failure mode replaces the previous one entirely.
                b.clear_failure()
                b.errcode, b.http_status = errcode, http_status
                b.errmsg = p.get("errmsg")
                b.body = p.get("body")
                b.content_type = p.get("content_type") or None
                b.times = times
            elif times is not None:
                b.times = times
            if b.times == 0:                          # times=0: nothing left to fail
                b.clear_failure()
            result = b.as_dict()
        self.reply_json({"ok": True, "appid": appid, "behaviour": result})


ROUTES = {
    "/cgi-bin/token": Handler.h_token,
    "/cgi-bin/stable_token": Handler.h_stable_token,
    "/cgi-bin/getcallbackip": Handler.h_callbackip,
    "/cgi-bin/ticket/getticket": Handler.h_getticket,
    "/cgi-bin/message/template/send": Handler.h_template_send,
    "/cgi-bin/media/upload": Handler.h_media_upload,
}


class StandinServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False      # don't wait for idle keep-alive connections on exit
    request_queue_size = 1024

    def __init__(self, addr, store: Store, ssl_ctx: ssl.SSLContext | None,
                 log_file):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.store = store
        self.ssl_ctx = ssl_ctx
        self.tls = ssl_ctx is not None
        self.log_file = log_file
        self.log_lock = threading.Lock()
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_ctx is not None:
            # Handshake deferred to the handler thread (see Handler.setup).
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address) -> None:
        # Disconnects and failed TLS handshakes are normal in tests; no tracebacks.
        exc = sys.exc_info()[1]
        self.log_line(f"error {type(exc).__name__}: {exc}")

    def log_line(self, text: str) -> None:
        if self.log_file is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self.log_lock:
            self.log_file.write(f"{stamp} {text}\n")
            self.log_file.flush()


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)                 # readers never see a partial file


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--port-file", help="write the bound port here (atomically)")
    ap.add_argument("--tls-cert", help="PEM certificate (chain); enables HTTPS")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    ap.add_argument("--log", help="append one line per request (no query strings)")
    ap.add_argument("--stable-grace", type=float, default=30.0,
                    help="seconds a stable token stays valid after force_refresh")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    ssl_ctx = None
    if args.tls_cert:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ssl_ctx.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as e:
            print(f"wechat_standin: cannot load TLS cert/key: {e}", file=sys.stderr)
            return 2

    log_file = open(args.log, "a", encoding="utf-8") if args.log else None
    try:
        server = StandinServer((args.host, args.port), Store(args.stable_grace),
                               ssl_ctx, log_file)
    except OSError as e:
        print(f"wechat_standin: cannot listen on {args.host}:{args.port}: {e}",
              file=sys.stderr)
        return 2
    port = server.server_address[1]

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                             daemon=True)
    serve.start()
    # The socket listens since construction, so connections are accepted now.
    if args.port_file:
        write_port_file(args.port_file, port)
    try:
        print(f"listening on {port}", flush=True)
    except OSError:
        pass

    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if args.port_file:
        try:
            with open(args.port_file) as f:
                if f.read().strip() == str(port):
                    os.unlink(args.port_file)    # no stale port for the next run
        except OSError:
            pass
    if log_file:
        log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
