"""Loopback ports for the servers the end-to-end tests start (also used by
tests/postfix/driver.py)."""
from __future__ import annotations

import socket


def free_ports(n: int) -> list[int]:
    """Bind n sockets at once (so the ports are distinct), then release them."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.25):
            return True
    except OSError:
        return False
