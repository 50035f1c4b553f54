"""A fault-injecting TCP proxy for drills (RELIABILITY.md "Faults to drill"): put in
front of the machine's shared Redis or PostgreSQL, it can refuse connections, hang
(accept and never answer), slow every chunk down, and recover — without ever stopping
the service behind it."""

from __future__ import annotations

import select
import socket
import threading
import time
from contextlib import suppress

from tests.e2e.processes import free_port

PASS, REFUSE, HANG = "pass", "refuse", "hang"


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; ``mode`` decides what happens.

    - ``pass``: bytes flow both ways (after ``delay_s`` per chunk, for a slow service);
    - ``refuse``: the listener is closed (connect gets ECONNREFUSED) and every open
      connection is cut;
    - ``hang``: new connections are accepted and open ones kept, but no byte moves in
      either direction until the mode changes (a hung service, or a network black hole).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.delay_s = 0.0
        self._mode = PASS
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._closed = threading.Event()
        self._live = 0
        self._listen()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def live(self) -> int:
        """Connections forwarding now (one that either end closed no longer counts)."""
        with self._lock:
            return self._live

    def set_mode(self, mode: str) -> None:
        with self._lock:
            self._mode = mode
            if mode == REFUSE:
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                for conn in self._conns:
                    with suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                self._conns.clear()
            elif self._listener is None:
                self._listen_locked()

    def close(self) -> None:
        self._closed.set()
        self.set_mode(REFUSE)
        self._acceptor.join(5)

    def _listen(self) -> None:
        with self._lock:
            self._listen_locked()

    def _listen_locked(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
        except OSError:  # the port was taken meanwhile (another connection's source port)
            listener.close()
            raise
        self._listener = listener

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed under us by set_mode(REFUSE)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        while self._mode == HANG and not self._closed.is_set():
            time.sleep(0.02)
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            if self._mode == REFUSE:
                client.close()
                upstream.close()
                return
            self._conns += [client, upstream]
            self._live += 1
        ended = threading.Event()
        for source, sink in ((client, upstream), (upstream, client)):
            args = (source, sink, ended)
            threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, ended: threading.Event) -> None:
        try:
            while True:
                ready, _, _ = select.select([source], [], [], 0.05)
                if self._mode == HANG:
                    continue  # hold everything, read nothing
                if not ready:
                    if source.fileno() < 0:
                        break
                    continue
                data = source.recv(65536)
                if not data:
                    break
                while self._mode == HANG:
                    time.sleep(0.02)
                if self.delay_s:
                    time.sleep(self.delay_s)
                sink.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                if not ended.is_set():
                    ended.set()
                    self._live -= 1
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
