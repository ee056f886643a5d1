"""A private Dovecot IMAP server (scripts/dovecot-test) for the email tests and the poller
benchmark: started on a free port in a directory of its own, stopped and removed after.
No Django here: the benchmark starts it before or beside its own Django setup."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "dovecot-test"
PASSWORD = "secret"  # scripts/dovecot-test: any user, this password


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(directory: Path | str) -> int:
    """Start Dovecot keeping its mail and state in `directory` (straight under /tmp: its mail
    user must be able to reach it); returns the IMAP port. RuntimeError when it did not
    start."""
    port = free_port()
    started = subprocess.run(
        [str(SCRIPT), "start", str(directory), str(port)],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        raise RuntimeError(f"Dovecot did not start: {started.stderr}")
    return port


def stop(directory: Path | str) -> None:
    """Stop the Dovecot of `directory` and remove the directory."""
    subprocess.run([str(SCRIPT), "stop", str(directory)], check=False)
    shutil.rmtree(directory, ignore_errors=True)
