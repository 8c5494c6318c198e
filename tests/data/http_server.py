"""A real HTTP server on 127.0.0.1 for the download tests, scripted per path.

Each path maps to a list of replies, used in order (the last one repeats). A reply is a
status, a body, extra headers, and optional behaviour: announce a longer Content-Length than it
sends (truncation), drip the body slowly, stall after the headers, say nothing at all after
accepting the connection, send the headers one byte at a time, or hang up without answering.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Location, Content-Encoding
    announce: int | None = None  # Content-Length to claim (default: the body's length)
    stall: float = 0.0  # seconds to wait after the headers, before the body
    drip: float = 0.0  # seconds between chunks of the body
    chunk: int = 1024
    silent: float = 0.0  # seconds to say nothing at all, before the status line
    header_drip: float = 0.0  # seconds between the bytes of the status line and headers
    hang_up: bool = False  # close the connection without a word


class Server:
    """Serves ``routes``; ``hits[path]`` counts requests. Use as a context manager."""

    def __init__(self, routes: dict[str, list[Reply]]) -> None:
        self.routes = routes
        self.hits: dict[str, int] = {}
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                n = server.hits.get(self.path, 0)
                server.hits[self.path] = n + 1
                replies = server.routes.get(self.path, [Reply(404, b"not found")])
                reply = replies[min(n, len(replies) - 1)]
                self.close_connection = True
                if reply.hang_up or (reply.silent and server.stop.wait(reply.silent)):
                    return
                length = len(reply.body) if reply.announce is None else reply.announce
                try:
                    if reply.header_drip:
                        self.drip_headers(reply, length)
                    else:
                        self.send_response(reply.status)
                        self.send_header("Content-Length", str(length))
                        for name, value in reply.headers.items():
                            self.send_header(name, value)
                        self.end_headers()
                    if reply.stall:
                        server.stop.wait(reply.stall)
                    for i in range(0, len(reply.body), reply.chunk):
                        if server.stop.is_set():
                            return
                        self.wfile.write(reply.body[i : i + reply.chunk])
                        self.wfile.flush()
                        if reply.drip:
                            time.sleep(reply.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def drip_headers(self, reply: Reply, length: int) -> None:
                head = f"HTTP/1.1 {reply.status} OK\r\nContent-Length: {length}\r\n\r\n"
                for byte in head.encode():
                    if server.stop.wait(reply.header_drip):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for one, and every test shuts a server down.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
