"""uvicorn's h11 protocol with a request read timeout: a client must deliver a whole request (headers and body)
within READ_TIMEOUT seconds of starting it, or its connection is closed (slow or abandoned clients cannot hold
connections open without limit)."""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

READ_TIMEOUT = 10.0
_REQUEST_READ = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)


class TimedH11Protocol(H11Protocol):
    read_timeout = READ_TIMEOUT

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._read_timer = None
        self._arm()

    def _arm(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def data_received(self, data: bytes) -> None:
        self._arm()                                  # a request is being read
        super().data_received(data)
        if self.conn.their_state in _REQUEST_READ:
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.conn.their_state not in _REQUEST_READ and not self.transport.is_closing():
            self.transport.close()
