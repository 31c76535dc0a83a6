"""The runtime's HTTP/1.1 client for the Lambda Runtime API: one keep-alive connection.

Part of Ember's Python runtime (see bootstrap.py): stdlib only, 3.8 syntax. Written on
the C socket module rather than http.client, which imports email and ssl (~15 ms of every
cold start) and parses each response's headers through email.feedparser (slow on the
warm path). Its peer is the Runtime API server, local and known.
"""

import _socket
import sys

_USER_AGENT = b"aws-lambda-python/%d.%d.%d-ember" % sys.version_info[:3]
_CHUNK = 65536


class _Dropped(Exception):
    """The connection closed before any byte of a response: safe to send again."""


class RuntimeClient:
    """Requests to the Runtime API at `host:port`, reconnecting once when dropped."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._host = host.strip("[]") or "127.0.0.1"
        self._port = int(port)
        self._head = b"Host: %s\r\nUser-Agent: %s\r\n" % (address.encode(), _USER_AGENT)
        self._sock: _socket.socket | None = None
        self._buf = bytearray()  # bytes received but not yet consumed
        # (method, path) of a request already sent whose response is still unread.
        self._ahead: "tuple[bytes, bytes] | None" = None

    def request(
        self, method: bytes, path: bytes, body: bytes = b"", headers: bytes = b""
    ) -> "tuple[int, dict[bytes, bytes], bytes]":
        """Send one request; return status, headers (lower-case names) and body."""
        if self._ahead is not None and self._sock is not None:
            if self._ahead != (method, path):
                raise RuntimeError("a request was sent ahead: its response must be read first")
            self._ahead = None
            try:
                return self._read_response(self._sock)
            except (_Dropped, ConnectionResetError):
                self.close()  # closed before answering it: asked again below
        # The server reads our stdout/stderr pipes when a request arrives: drain first.
        _flush_output()
        head = b"%s %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n" % (
            method,
            path,
            self._head,
            headers,
            len(body),
        )
        for attempt in (1, 2):
            sock = self._sock or self._connect()
            try:
                if len(body) < _CHUNK:
                    sock.sendall(head + body)
                else:
                    sock.sendall(head)
                    sock.sendall(body)
                return self._read_response(sock)
            except (_Dropped, ConnectionResetError, BrokenPipeError):
                # Typically the server closed the idle keep-alive connection.
                self.close()
                if attempt == 2:
                    raise ConnectionError("the Runtime API closed the connection") from None
        raise AssertionError("unreachable")

    def request_then(
        self, method: bytes, path: bytes, body: bytes, headers: bytes, then: bytes
    ) -> "tuple[int, dict[bytes, bytes], bytes]":
        """Send one request and, in the same write, `GET then` (HTTP/1.1 pipelining); return
        the first one's answer. The next `request(b"GET", then)` reads the second's. On the
        warm path this saves a write and a wake-up on each side: the runtime posts its
        response and is back in next in one step."""
        sock = self._sock
        if sock is None or self._ahead is not None or len(body) >= _CHUNK:
            # Large bodies go as request() sends them; so a body over the 6 MB limit (a
            # 413, after which the runtime exits) never has a `next` sent ahead of it.
            return self.request(method, path, body, headers)
        _flush_output()
        first = b"%s %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s" % (
            method,
            path,
            self._head,
            headers,
            len(body),
            body,
        )
        second = b"GET %s HTTP/1.1\r\n%s\r\n" % (then, self._head)
        try:
            sock.sendall(first + second)
            self._ahead = (b"GET", then)
            return self._read_response(sock)
        except (_Dropped, ConnectionResetError, BrokenPipeError):
            # Closed before answering (neither request was served): send the first again,
            # alone, as request() retries.
            self.close()
            return self.request(method, path, body, headers)

    def close(self) -> None:
        self._ahead = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf.clear()

    def _connect(self) -> "_socket.socket":
        error: OSError = ConnectionError(f"cannot resolve {self._host}")
        # Bytes, when it can be: a str host is IDNA-encoded, which costs an import.
        host = self._host.encode() if self._host.isascii() else self._host
        for family, kind, proto, _, address in _socket.getaddrinfo(
            host, self._port, 0, _socket.SOCK_STREAM
        ):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.connect(address)
            except OSError as e:
                sock.close()
                error = e
                continue
            if family != _socket.AF_UNIX:
                # A request goes out in one write; Nagle must not hold the next one back.
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            self._sock = sock
            return sock
        raise error

    def _read_response(self, sock: "_socket.socket") -> "tuple[int, dict[bytes, bytes], bytes]":
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            chunk = sock.recv(_CHUNK)
            if not chunk:
                if buf:
                    raise ConnectionError("the Runtime API closed the connection mid-response")
                raise _Dropped
            buf += chunk
            end = buf.find(b"\r\n\r\n", max(0, len(buf) - len(chunk) - 3))
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        version, status_text = lines[0].split(b" ", 2)[:2]
        status = int(status_text)
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = self._read_chunked(sock)
        elif b"content-length" in headers:
            body = self._read_exact(sock, int(headers[b"content-length"]))
        elif status in (204, 304):
            body = b""
        else:
            body = self._read_to_close(sock)
        connection = headers.get(b"connection", b"").lower()
        if connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive"):
            self.close()
        return status, headers, body

    def _read_exact(self, sock: "_socket.socket", size: int) -> bytes:
        buf = self._buf
        if len(buf) >= size:
            data = bytes(buf[:size])
            del buf[:size]
            return data
        # Large events (up to 6 MB) are received straight into their final buffer.
        out = bytearray(size)
        with memoryview(out) as view:
            got = len(buf)
            view[:got] = buf
            buf.clear()
            while got < size:
                n = sock.recv_into(view[got:])
                if not n:
                    raise ConnectionError("the Runtime API closed the connection mid-body")
                got += n
        return bytes(out)

    def _read_line(self, sock: "_socket.socket") -> bytes:
        buf = self._buf
        end = buf.find(b"\r\n")
        while end < 0:
            chunk = sock.recv(_CHUNK)
            if not chunk:
                raise ConnectionError("the Runtime API closed the connection mid-body")
            buf += chunk
            end = buf.find(b"\r\n")
        line = bytes(buf[:end])
        del buf[: end + 2]
        return line

    def _read_chunked(self, sock: "_socket.socket") -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._read_line(sock).split(b";", 1)[0], 16)
            if size == 0:
                while self._read_line(sock):  # trailers, up to an empty line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(sock, size))
            self._read_line(sock)

    def _read_to_close(self, sock: "_socket.socket") -> bytes:
        parts = [bytes(self._buf)]
        while chunk := sock.recv(_CHUNK):
            parts.append(chunk)
        self.close()
        return b"".join(parts)


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # closed or broken by user code: nothing to drain
            pass
