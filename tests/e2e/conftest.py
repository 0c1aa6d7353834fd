"""End-to-end fixtures: start a real ``easd`` binary, create accounts, hand out
pyactivesync clients.

Environment:
  EASD_BIN            path to the server binary (default: <repo>/target/debug/easd)
  EASD_E2E_INSECURE   set to 1 to disable TLS verification (default: verify
                      against the server's self-signed DIR/tls/cert.pem)
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pyactivesync import Client

from netutil import free_ports, port_open

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "easd"
STARTUP_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Account:
    email: str
    name: str
    password: str


@dataclass
class EasServer:
    bin: Path
    data_dir: Path
    https_port: int
    http_port: int
    lmtp_port: int
    admin_password: str
    alice: Account
    bob: Account
    log_path: Path
    proc: subprocess.Popen = field(repr=False)

    @property
    def host(self) -> str:
        """What pyactivesync calls ``server``: it builds ``https://{server}/Microsoft-Server-ActiveSync``."""
        return f"127.0.0.1:{self.https_port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.host}"

    @property
    def eas_url(self) -> str:
        return f"{self.base_url}/Microsoft-Server-ActiveSync"

    @property
    def lmtp_addr(self) -> tuple[str, int]:
        """Where ``easd serve`` takes deliveries (LMTP over TCP), for ``smtplib.LMTP``."""
        return ("127.0.0.1", self.lmtp_port)

    @property
    def cert_path(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    @property
    def tls_verify(self) -> str | bool:
        # pyactivesync's Client(verify_ssl=...) is annotated ``bool`` but is
        # assigned verbatim to ``requests.Session.verify`` (_http.Transport),
        # which also accepts a CA bundle path. We therefore VERIFY the server
        # against its own self-signed DIR/tls/cert.pem (this requires the cert
        # to carry an IP SAN for 127.0.0.1). EASD_E2E_INSECURE=1 disables
        # verification as an escape hatch.
        if os.environ.get("EASD_E2E_INSECURE") == "1":
            return False
        return str(self.cert_path)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"
        return "\n".join(text.splitlines()[-lines:])


_SERVER: EasServer | None = None
# Every server started by run_easd and not yet stopped (for failure reports).
_LIVE: list[EasServer] = []

MARKERS = {
    "provision": "Provision command / policy key handling",
    "foldersync": "FolderSync",
    "folderops": "FolderCreate / FolderUpdate / FolderDelete",
    "settings": "Settings command",
    "auth": "HTTP authentication",
    "http": "raw HTTP-level behaviour (OPTIONS)",
    "mail": "mail: LMTP delivery, Sync of mail folders, ItemOperations, MoveItems",
    "send_push": "SendMail and direct push (Ping)",
    "governance": "device governance: block, policy change, remote wipe",
    "pim": "calendar, contacts, tasks and notes: typed items, ghosting",
    "autodiscover": "Autodiscover (mobilesync schema) and the URL it answers",
    "directory": "the company directory: GAL Search, ResolveRecipients, Find",
    "share": "shared and public folders in FolderSync",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def _add_user(bin_path: Path, data_dir: Path, account: Account, env: dict[str, str]) -> None:
    cmd = [
        str(bin_path), "user", "add", account.email,
        "--name", account.name,
        "--password-stdin",
        "--data", str(data_dir),
    ]
    try:
        res = subprocess.run(
            cmd, input=account.password + "\n", capture_output=True, text=True,
            env=env, timeout=CLI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(cmd)}` did not finish within {CLI_TIMEOUT_S}s")
    if res.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` exited {res.returncode}\n--- stdout ---\n{res.stdout}\n--- stderr ---\n{res.stderr}"
        )


@contextmanager
def run_easd(*, config_toml: str | None = None, extra_args: Sequence[str] = ()) -> Iterator[EasServer]:
    """Start ``easd serve`` on free loopback ports (HTTPS, HTTP, LMTP), add alice and bob,
    yield, SIGTERM. ``config_toml`` is written to a file passed as ``--config``;
    ``extra_args`` are appended to the command line (e.g. ``["--notify", "off"]`` for a
    second server next to the session one)."""
    bin_path = Path(os.environ.get("EASD_BIN") or DEFAULT_BIN)
    if not bin_path.is_file() or not os.access(bin_path, os.X_OK):
        pytest.fail(f"easd binary not found or not executable: {bin_path} (build it or set EASD_BIN)")

    tmp_root = Path(tempfile.mkdtemp(prefix="easd-e2e-"))
    data_dir = tmp_root / "data"
    data_dir.mkdir(mode=0o700)
    log_path = tmp_root / "server.log"
    https_port, http_port, lmtp_port = free_ports(3)
    admin_password = secrets.token_urlsafe(18)
    env = dict(os.environ, EASD_ADMIN_PASSWORD=admin_password)

    cmd = [
        str(bin_path), "serve",
        "--data", str(data_dir),
        "--https", f"127.0.0.1:{https_port}",
        "--http", f"127.0.0.1:{http_port}",
        "--lmtp", f"127.0.0.1:{lmtp_port}",
    ]
    if config_toml is not None:
        config_path = tmp_root / "easd.toml"
        config_path.write_text(config_toml)
        cmd += ["--config", str(config_path)]
    cmd += list(extra_args)
    log_file = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env)

    def startup_failure(reason: str) -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log_file.flush()
        pytest.fail(f"{reason}\ncommand: {' '.join(cmd)}\n--- server output ---\n"
                    f"{log_path.read_text(errors='replace')}")

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            startup_failure(f"easd serve exited early with code {proc.returncode}")
        if port_open(https_port) and port_open(lmtp_port):
            break
        if time.monotonic() > deadline:
            startup_failure(f"easd serve did not accept connections on 127.0.0.1:{https_port} "
                            f"(HTTPS) and 127.0.0.1:{lmtp_port} (LMTP) within {STARTUP_TIMEOUT_S:.0f}s")
        time.sleep(0.1)

    server = EasServer(
        bin=bin_path, data_dir=data_dir, https_port=https_port, http_port=http_port,
        lmtp_port=lmtp_port,
        admin_password=admin_password,
        alice=Account("alice@example.com", "Alice Example", secrets.token_urlsafe(15)),
        bob=Account("bob@example.org", "Bob Example", secrets.token_urlsafe(15)),
        log_path=log_path, proc=proc,
    )
    if not server.cert_path.is_file():
        startup_failure(f"server is listening but {server.cert_path} does not exist")

    try:
        _add_user(bin_path, data_dir, server.alice, env)
        _add_user(bin_path, data_dir, server.bob, env)
    except BaseException:
        proc.kill()
        proc.wait()
        log_file.close()
        raise

    _LIVE.append(server)
    try:
        yield server
    finally:
        _LIVE.remove(server)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            log_file.close()
            pytest.fail(f"easd did not exit within {SHUTDOWN_TIMEOUT_S:.0f}s of SIGTERM\n"
                        f"--- server output (tail) ---\n{server.log_tail()}")
        log_file.close()
        if rc != 0:
            pytest.fail(f"easd exited with code {rc} after SIGTERM (expected 0)\n"
                        f"--- server output (tail) ---\n{server.log_tail()}")
        shutil.rmtree(tmp_root, ignore_errors=True)


@pytest.fixture(scope="session")
def easd_server() -> Iterator[EasServer]:
    """The session's server (see ``run_easd``)."""
    global _SERVER
    with run_easd() as server:
        _SERVER = server
        try:
            yield server
        finally:
            _SERVER = None


def new_device_id() -> str:
    # MS-ASHTTP: DeviceId is up to 32 alphanumeric characters.
    return "e2e" + uuid.uuid4().hex[:24]


def new_client(server: EasServer, account: Account | None = None, *, password: str | None = None,
               device_id: str | None = None, timeout: float = 15.0) -> Client:
    """A pyactivesync client of ``server`` (default account: alice); the caller closes it."""
    account = account or server.alice
    c = Client(
        server.host,
        account.email,
        account.password if password is None else password,
        device_id=device_id or new_device_id(),
        verify_ssl=server.tls_verify,  # type: ignore[arg-type]  # CA path, see EasServer.tls_verify
        timeout=timeout,
    )
    # requests gives REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (env) precedence over
    # Session.verify, which would silently replace our CA file (or False) with
    # the system bundle; it would also honour *_PROXY for 127.0.0.1. The suite
    # talks to loopback only, so ignore the environment on this session.
    c._transport.session.trust_env = False
    return c


@pytest.fixture
def make_client(easd_server: EasServer) -> Iterator[Callable[..., Client]]:
    """Factory for pyactivesync clients; each call is a new device unless device_id is given."""
    clients: list[Client] = []

    def factory(account: Account | None = None, *, password: str | None = None,
                device_id: str | None = None) -> Client:
        c = new_client(easd_server, account, password=password, device_id=device_id)
        clients.append(c)
        return c

    yield factory
    for c in clients:
        c.close()


@pytest.fixture
def alice(easd_server: EasServer, make_client: Callable[..., Client]) -> Client:
    return make_client(easd_server.alice)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for server in _LIVE:
            label = "easd server output (tail)"
            if server is not _SERVER:
                label += f" [{server.data_dir.parent.name}]"
            rep.sections.append((label, server.log_tail()))
