"""A mirror served on 127.0.0.1 from a thread, by the standard library's `http.server`, for the mirror
tests and `benchmarks/mirrors.py`: static files with `Range` requests (as nginx, S3 or GitHub Pages
serve them; `python -m http.server` ignores `Range`, which `ranges=False` imitates), a log of every
request and of the bytes sent, a switch that cuts one file's response after N bytes once, a
per-chunk delay, and `hub=True` to answer like the Hugging Face Hub's `/{repo}/resolve/{revision}/{file}`
(with `X-Repo-Commit` and `ETag`), for `HF_ENDPOINT`.

    with LoopbackServer(mirror_folder) as server:
        kerazoo.pull(server.url, "lenet5.mine")
        server.log  # [{"method": "GET", "path": "/index.json", "range": None, "status": 200, "sent": 1234}, ...]
"""
from __future__ import annotations

import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kerazoo.artifacts import sha256

__all__ = ["LoopbackServer"]

CHUNK = 1 << 14
_HUB_PATH = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<file>.+)")


class LoopbackServer:
    """A static file server for `root` on 127.0.0.1 (a free port), running in a daemon thread.

    Args:
      root: the folder served (a mirror: `index.json` and artifact folders).
      ranges: answer `Range: bytes=N-` with 206 and the rest of the file (False: always the whole file).
      hub: serve `/{org}/{repo}/resolve/{revision}/{path}` like the Hub, `commit` as `X-Repo-Commit`.

    Attributes:
      url: the server's root address.
      log: one dict per request, appended when it arrives and updated while its body is sent: method,
        path, range header, status, body bytes sent so far.
      cut: `{request path: n}`: the next response for that path stops after n body bytes and the
        connection is dropped (once; the entry is removed).
      delay: seconds slept after each 16 KiB chunk sent (a slow link).
    """

    def __init__(self, root: str | Path, *, ranges: bool = True, hub: bool = False, commit: str = "c" * 40):
        self.root, self.ranges, self.hub, self.commit = Path(root), ranges, hub, commit
        self.log: list[dict] = []
        self.cut: dict[str, int] = {}
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sent(self, path: str) -> int:
        """Body bytes sent for request path `path` over all requests."""
        return sum(r["sent"] for r in self.log if r["path"] == path)

    def _record(self, entry: dict) -> None:
        with self._lock:
            self.log.append(entry)


def _handler(server: LoopbackServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def setup(self):  # headers and body go out as separate writes: without this, Nagle's algorithm and the
            super().setup()  # client's delayed ACK stall every response ~40 ms (nginx sets tcp_nodelay too)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def _file(self) -> Path | None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if server.hub:
                match = _HUB_PATH.fullmatch(path)
                if not match:
                    return None
                path = "/" + match.group("file")
            target = (server.root / path.lstrip("/")).resolve()
            inside = target == server.root.resolve() or server.root.resolve() in target.parents
            return target if inside and target.is_file() else None

        def _serve(self, body: bool):
            entry = {"method": self.command, "path": urllib.parse.urlsplit(self.path).path,
                     "range": self.headers.get("Range"), "status": 404, "sent": 0}
            server._record(entry)
            target = self._file()
            if target is None:
                self.send_response(404)
                if server.hub:
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("X-Repo-Commit", server.commit)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = target.stat().st_size
            start = 0
            asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if server.ranges and asked:
                start = int(asked.group(1))
                if start >= size:
                    entry["status"] = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            entry["status"] = 206 if start else 200
            self.send_response(entry["status"])
            self.send_header("Content-Length", str(size - start))
            self.send_header("Accept-Ranges", "bytes" if server.ranges else "none")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            if server.hub:
                self.send_header("X-Repo-Commit", server.commit)
                self.send_header("ETag", f'"{sha256(target)}"')
            self.end_headers()
            if body:
                self._body(target, start, entry)

        def _body(self, target: Path, start: int, entry: dict):
            limit = server.cut.pop(entry["path"], None)
            with open(target, "rb") as f:
                f.seek(start)
                while chunk := f.read(CHUNK):
                    if limit is not None and entry["sent"] + len(chunk) > limit:
                        chunk = chunk[: limit - entry["sent"]]
                    try:
                        self.wfile.write(chunk)
                    except OSError:  # the client went away
                        return
                    entry["sent"] += len(chunk)
                    if limit is not None and entry["sent"] >= limit:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)  # the cut: the rest never comes
                        self.close_connection = True
                        return
                    if server.delay:
                        time.sleep(server.delay)

    return Handler
