"""paho-mqtt waits on its socket with select.select(), which refuses a file
descriptor above 1023 (FD_SETSIZE). In `motcua web` the phones' connections
take the low numbers, so after a broker restart the new MQTT socket gets a
high one and paho could never reconnect. `install()` gives paho a select()
made with poll(), which has no such limit; nothing else changes."""
from __future__ import annotations

import select as _select

_READ = _select.POLLIN | _select.POLLPRI | _select.POLLHUP | _select.POLLERR
_WRITE = _select.POLLOUT | _select.POLLHUP | _select.POLLERR


def _fd(obj) -> int:
    fd = obj if isinstance(obj, int) else obj.fileno()
    if not isinstance(fd, int) or fd < 0:
        raise ValueError("file descriptor cannot be a negative integer")  # select's own words
    return fd


def poll_select(rlist, wlist, xlist, timeout=None):
    """select.select's answer (the ready objects of each list), by poll()."""
    poller = _select.poll()
    masks: dict[int, int] = {}
    for obj in rlist:
        masks[_fd(obj)] = masks.get(_fd(obj), 0) | _READ
    for obj in wlist:
        masks[_fd(obj)] = masks.get(_fd(obj), 0) | _WRITE
    for fd, mask in masks.items():
        poller.register(fd, mask)
    ready = dict(poller.poll(None if timeout is None else max(0, timeout) * 1000))
    return ([o for o in rlist if ready.get(_fd(o), 0) & _READ],
            [o for o in wlist if ready.get(_fd(o), 0) & _WRITE], [])


class _PollSelectModule:
    """Stands in for the `select` module inside paho.mqtt.client."""
    error = _select.error
    select = staticmethod(poll_select)

    def __getattr__(self, name):
        return getattr(_select, name)


def install() -> None:
    import paho.mqtt.client as paho_client
    if not isinstance(paho_client.select, _PollSelectModule):
        paho_client.select = _PollSelectModule()
