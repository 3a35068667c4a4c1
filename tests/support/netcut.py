"""A TCP link the test can cut: a forwarder between a centre's bridge and the
provincial broker. cut() drops every connection and stops listening, so new
ones are refused, as a commune's line going dead does; restore() listens on
the same port again. (A listener that accepts and then closes would look more
like a flaky line, but Mosquitto 2.0's bridge can wait in its TLS handshake on
such a connection with the whole broker stalled behind it.)
(Real packet filtering needs privileges and tools CI may lack; a forwarder
needs neither and cuts at the same place, the TCP connection.)"""
from __future__ import annotations

import selectors
import socket
import threading


class Link:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self._listener = self._listen()
        self.port = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)
        self.connections = 0

    def _listen(self) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.2)
        return s

    def start(self) -> "Link":
        self._thread.start()
        return self

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            self._listener.close()
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def restore(self) -> None:
        with self._lock:
            self._listener = self._listen()
        self._up.set()

    def stop(self) -> None:
        self._stop.set()
        if self._up.is_set():
            self.cut()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._up.wait(0.2):
                continue
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:     # closed by cut()
                continue
            if not self._up.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            self.connections += 1
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
            while True:
                for key, _ in sel.select(timeout=0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                if not self._up.is_set():
                    return
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
