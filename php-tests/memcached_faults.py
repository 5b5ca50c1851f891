#!/usr/bin/env python3
"""Faults for the memcached phpt tests, in a child process so that the
tests themselves only wait on events (their output lines).

  memcached_faults.py proxy --to HOST:PORT [--delay S] [--lose-first-add-reply]
      A meta-protocol proxy on a free loopback port (printed first). One
      request, then its reply, per connection at a time. --delay: each reply
      is held back S seconds. --lose-first-add-reply: the first "ms ... ME"
      (an add) goes to memcached and memcached's reply is read, but the
      client's connection is closed instead of forwarding it; a line
      "lost the reply to: <request>" is printed.

  memcached_faults.py old --to HOST:PORT [--lose-first-add-reply]
      A memcached 1.4/1.5 in front of a real one, on a free loopback port
      (printed first): classic text commands are passed on, meta commands
      (mg ms md ma mn me) and gat/gats answered "ERROR" as those versions
      do. Each refused command's name is counted; "refused N" lines go to
      stderr as they happen. --lose-first-add-reply: as for proxy, with
      the first "add"; the line goes to stdout.

  memcached_faults.py signal PID SIGNAME
      Sends the signal to PID as fast as it can until its stdin closes;
      prints "started" after the first one, "sent N" at the end.
"""

import argparse
import os
import select
import signal
import socket
import sys
import threading
import time


def read_line(stream):
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        return None
    return line


def read_request(client):
    line = read_line(client)
    if line is None:
        return None
    words = line.split()
    if words and words[0] == b"ms":
        line += client.read(int(words[2]) + 2)
    return line


def read_reply(server):
    line = read_line(server)
    if line is None:
        return None
    words = line.split()
    if words and words[0] == b"VA":
        line += server.read(int(words[1]) + 2)
    return line


def listen():
    """A listener on a free loopback port, printed first."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    print(listener.getsockname()[1], flush=True)
    return listener


def serve_forever(listener, serve):
    """serve(conn) for each connection, on a thread of its own."""
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def proxy(args):
    host, port = args.to.rsplit(":", 1)
    listener = listen()
    lost = threading.Lock()
    state = {"lost": not args.lose_first_add_reply}

    def serve(conn):
        upstream = socket.create_connection((host, int(port)))
        client, server = conn.makefile("rb"), upstream.makefile("rb")
        try:
            while True:
                request = read_request(client)
                if request is None:
                    return
                upstream.sendall(request)
                reply = read_reply(server)
                if reply is None:
                    return
                header = request.split(b"\r\n", 1)[0]
                if header.startswith(b"ms ") and b"ME" in header.split()[3:]:
                    with lost:
                        lose, state["lost"] = not state["lost"], True
                    if lose:
                        print("lost the reply to: " + header.decode(), flush=True)
                        return
                if args.delay:
                    time.sleep(args.delay)
                conn.sendall(reply)
        except OSError:
            return
        finally:
            conn.close()
            upstream.close()

    serve_forever(listener, serve)


STORAGE = (b"set", b"add", b"replace", b"append", b"prepend", b"cas")
REFUSED = (b"mg", b"ms", b"md", b"ma", b"mn", b"me", b"gat", b"gats")


def read_classic_request(client):
    line = read_line(client)
    if line is None:
        return None
    words = line.split()
    if words and words[0] in STORAGE:
        line += client.read(int(words[4]) + 2)
    return line


def read_classic_reply(server, command):
    """One reply: a line, or for a retrieval its VALUE blocks and END."""
    if command not in (b"get", b"gets"):
        return read_line(server)
    reply = b""
    while True:
        line = read_line(server)
        if line is None:
            return None
        reply += line
        words = line.split()
        if words[:1] == [b"VALUE"]:
            reply += server.read(int(words[3]) + 2)
        elif line in (b"END\r\n",) or words[:1] in ([b"ERROR"], [b"CLIENT_ERROR"], [b"SERVER_ERROR"]):
            return reply


def old_memcached(args):
    host, port = args.to.rsplit(":", 1)
    listener = listen()
    refused = [0]
    count = threading.Lock()
    state = {"lost": not args.lose_first_add_reply}

    def serve(conn):
        upstream = socket.create_connection((host, int(port)))
        client, server = conn.makefile("rb"), upstream.makefile("rb")
        try:
            while True:
                request = read_classic_request(client)
                if request is None:
                    return
                command = request.split(None, 1)[0] if request.strip() else b""
                if command in REFUSED:
                    with count:
                        refused[0] += 1
                        print("refused %d" % refused[0], file=sys.stderr, flush=True)
                    conn.sendall(b"ERROR\r\n")
                    continue
                upstream.sendall(request)
                reply = read_classic_reply(server, command)
                if reply is None:
                    return
                if command == b"add":
                    with count:
                        lose, state["lost"] = not state["lost"], True
                    if lose:
                        header = request.split(b"\r\n", 1)[0]
                        print("lost the reply to: " + header.decode(), flush=True)
                        return
                conn.sendall(reply)
        except OSError:
            return
        finally:
            conn.close()
            upstream.close()

    serve_forever(listener, serve)


def send_signals(args):
    number = getattr(signal, args.signame)
    sent = 0
    while True:
        try:
            os.kill(args.pid, number)
        except ProcessLookupError:
            break
        sent += 1
        if sent == 1:
            print("started", flush=True)
        if select.select([sys.stdin], [], [], 0.0001)[0]:
            break
    print("sent %d" % sent, flush=True)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("proxy")
    p.add_argument("--to", required=True)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--lose-first-add-reply", action="store_true")
    p.set_defaults(run=proxy)
    o = commands.add_parser("old")
    o.add_argument("--to", required=True)
    o.add_argument("--lose-first-add-reply", action="store_true")
    o.set_defaults(run=old_memcached)
    s = commands.add_parser("signal")
    s.add_argument("pid", type=int)
    s.add_argument("signame")
    s.set_defaults(run=send_signals)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
