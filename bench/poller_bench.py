"""The IMAP poller with a backlog: 10,000 messages waiting in a real Dovecot mailbox.

What it shows (issue 17, "Speed"): the poller's memory does not grow with the backlog, and a
poller killed part-way resumes without storing anything twice or losing anything.

How: a private Dovecot (scripts/dovecot-test) on a free port; the messages are the test
corpus' real-shaped mails (email_bench.messages: Outlook, Gmail, Thunderbird, KOI8-R,
windows-1251, HTML only, inline images, forwarded), each with its own Message-ID, delivered
into the account's Maildir as an MTA's local delivery does (written to tmp/, renamed into
new/; Dovecot indexes them at the poller's first SELECT). The poller is the product's own:
`manage.py run_job mail` (what beat runs every minute), production settings (DEBUG off), in a
subprocess, against the bench's database.

1. Baseline: a mailbox with a small backlog (500; 50 with --quick) drained by one run.
2. The backlog: another mailbox with 10,000 (300 with --quick). The poller is SIGKILLed when
   the database holds 30 % of them, started again, killed at 60 %, started again, and left to
   drain the rest.

Peak memory of each run is the kernel's high-water mark of its resident set (VmHWM in
/proc/<pid>/status), read every 0.2 s until the process is gone (a killed run's is read
just before the kill; a drained run's last reading is at most 0.2 s before it exits, when
it only prints its summary). `ru_maxrss` of the reaped child is no use here: Linux carries
the parent's high-water mark over the fork and exec. The resident size is sampled with it
against the rows stored so far, to show its course.

The judged figure is the working memory's ratio: the highest peak of the backlog's runs less
the footprint, over the small run's peak less the footprint, goal <= 1.5. The footprint is
the peak of the same job polling an empty mailbox (a third, empty, account): Django and the
app's imports, some 175 MB, most of the process. A ratio of whole peaks would hide real
growth under it: a poller that fetched all 10,000 bodies of these small (1 KB) mails at
once, or kept every parsed message, would add 10-50 MB, under 1.3 times the whole peak but
several times the small run's working memory of a few MB. The whole peaks' ratio and the
growth in MB per 1,000 messages stored (a least-squares slope over the backlog's samples)
are reported beside it.

Exactly once: every Message-ID stored once, one ticket and one ticket message per mail, all
10,000 flagged as ingested in the mailbox; the second figure counts what is missing, stored
twice or left unmarked, goal 0, judged on every run (it holds at any size).

Run by bench/run.py (which sets Django up), or alone: `python bench/poller_bench.py
[--messages N]` merges its figures into bench/results.json. Needs Debian's dovecot-imapd.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_ENV = "CRM_BENCH_IMAP_PASSWORD"

FULL_MESSAGES = 10_000
QUICK_MESSAGES = 300
FULL_SMALL_BATCH = 500
QUICK_SMALL_BATCH = 50
# Where the poller is killed, as shares of the backlog stored.
KILL_AT = (0.3, 0.6)
GOAL_MEMORY_RATIO = 1.5
# The working memory of a small run is a few MB; below this it is noise, not a denominator.
MIN_WORKING_MB = 1.0
SAMPLE_SECONDS = 0.2
# One run may not take longer than this (a hung poller fails the bench instead of hanging it).
RUN_TIMEOUT_SECONDS = 3 * 60 * 60


@dataclass
class Run:
    """One poller process: what it stored, how long it took, its memory."""

    label: str
    killed: bool = False
    seconds: float = 0.0
    stored_before: int = 0
    stored_after: int = 0
    # Seconds from spawning the process to the first message it stored (None: it stored none).
    first_message_s: float | None = None
    peak_rss_mb: float = 0.0
    # (messages stored so far, resident MB) every SAMPLE_SECONDS.
    samples: list[tuple[int, float]] = field(default_factory=list)
    returncode: int | None = None
    summary: str = ""

    @property
    def stored(self) -> int:
        return self.stored_after - self.stored_before

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "killed": self.killed,
            "seconds": round(self.seconds, 1),
            "stored": self.stored,
            "first_message_s": None
            if self.first_message_s is None
            else round(self.first_message_s, 2),
            "messages_per_second": round(self.stored / self.seconds, 1) if self.seconds else None,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rss_mb_by_stored": _course(self.samples),
            "summary": self.summary,
        }


def _course(samples: list[tuple[int, float]], points: int = 6) -> list[list[float]]:
    """A few (stored, MB) samples spread over the run, for the report."""
    if not samples:
        return []
    step = max(1, len(samples) // points)
    picked = samples[::step]
    if picked[-1] != samples[-1]:
        picked.append(samples[-1])
    return [[stored, round(mb, 1)] for stored, mb in picked]


def growth_per_thousand(runs: list[Run], *, skip: int) -> float | None:
    """Resident MB gained per 1,000 messages stored, fitted over the runs' samples once each
    run is past its first `skip` messages (least squares; one line per run, pooled slope)."""
    sxx = sxy = 0.0
    for run in runs:
        points = [(stored, mb) for stored, mb in run.samples if stored >= skip]
        if len(points) < 2:
            continue
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        sxx += sum((x - mean_x) ** 2 for x, _ in points)
        sxy += sum((x - mean_x) * (y - mean_y) for x, y in points)
    return sxy / sxx * 1000 if sxx else None


def working_memory_ratio(peak: float, *, small: float, footprint: float) -> float:
    """The backlog's working memory over the small batch's: each peak less the footprint of
    the same job polling an empty mailbox (Django, the app's imports, the connection), which
    is most of the process and would hide growth in a ratio of whole peaks."""
    return (peak - footprint) / max(small - footprint, MIN_WORKING_MB)


def deliver(directory: Path, user: str, messages: list[bytes]) -> None:
    """Put the messages into the user's Maildir as an MTA's local delivery does: each written
    to tmp/ and renamed into new/ (scripts/dovecot-test keeps DIR/mail/<user> as Maildir),
    owned by the user Dovecot reads mail as (the owner of DIR/mail)."""
    maildir = directory / "mail" / user
    owner = (directory / "mail").stat()
    for sub in ("", "tmp", "new", "cur"):
        (maildir / sub).mkdir(exist_ok=True)
        os.chown(maildir / sub, owner.st_uid, owner.st_gid)
    host = socket.gethostname().replace("/", "_").replace(":", "_")
    base = int(time.time())
    for n, raw in enumerate(messages):
        name = f"{base}.M{n}P{os.getpid()}.{host},S={len(raw)}"
        temporary = maildir / "tmp" / name
        temporary.write_bytes(raw)
        os.chown(temporary, owner.st_uid, owner.st_gid)
        os.rename(temporary, maildir / "new" / name)


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """(resident, peak resident) of a live process, MB (/proc: VmRSS, VmHWM)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line[:5]] = int(line.split()[1]) / 1024
    if len(values) < 2:
        return None  # a zombie has no memory left to report
    return values["VmRSS"], values["VmHWM"]


def run_poller(
    label: str,
    *,
    mailbox_id: int,
    env: dict[str, str],
    log: Path,
    kill_at: int | None = None,
) -> Run:
    """`manage.py run_job mail` in a subprocess, watched until it exits (or until the mailbox
    holds `kill_at` messages: then SIGKILL, the way an OOM killer or a lost node ends it)."""
    from email_channel.models import EmailMessage

    def stored() -> int:
        return EmailMessage.objects.filter(mailbox_id=mailbox_id, direction="in").count()

    run = Run(label=label, stored_before=stored())
    start = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "run_job", "mail"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    while True:
        # Memory first: it is gone once the process has exited.
        memory = _memory_mb(process.pid)
        pid, status = os.waitpid(process.pid, os.WNOHANG)
        now = time.perf_counter() - start
        count = stored()
        if run.first_message_s is None and count > run.stored_before:
            run.first_message_s = now
        if memory is not None:
            run.samples.append((count - run.stored_before, memory[0]))
            run.peak_rss_mb = max(run.peak_rss_mb, memory[1])
        if pid:
            break
        if kill_at is not None and count >= kill_at and not run.killed:
            os.kill(process.pid, signal.SIGKILL)
            run.killed = True
        if now > RUN_TIMEOUT_SECONDS:
            os.kill(process.pid, signal.SIGKILL)
            raise RuntimeError(f"{label}: the poller did not finish in {RUN_TIMEOUT_SECONDS} s")
        time.sleep(SAMPLE_SECONDS)
    process.returncode = os.waitstatus_to_exitcode(status)
    run.returncode = process.returncode
    run.seconds = time.perf_counter() - start
    run.stored_after = stored()
    if not run.killed and run.returncode != 0:
        raise RuntimeError(f"{label}: the poller exited {run.returncode}; see {log}")
    lines = log.read_text(errors="replace").strip().splitlines()
    run.summary = lines[-1] if lines and lines[-1].startswith("mail:") and not run.killed else ""
    return run


def _mailbox(name: str, *, user: str, port: int) -> Any:
    from email_channel.models import Mailbox

    return Mailbox.objects.create(
        name=name,
        address=f"{name}@example.com",
        imap_host="127.0.0.1",
        imap_port=port,
        imap_tls=False,
        imap_user=user,
        imap_secret_env=PASSWORD_ENV,
    )


def _not_flagged(port: int, user: str) -> int:
    """Messages in the user's INBOX the poller did not mark as ingested."""
    from imapclient import IMAPClient

    from email_channel.imap import INGESTED_FLAG
    from tests import dovecot

    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=60)
    try:
        client.login(user, dovecot.PASSWORD)
        client.select_folder("INBOX", readonly=True)
        return len(client.search(["UNKEYWORD", INGESTED_FLAG]))
    finally:
        client.logout()


def _exactly_once(mailbox: Any, expected: int) -> dict[str, int]:
    from django.db.models import Count

    from email_channel.models import EmailMessage
    from tickets.models import TicketMessage

    inbound = EmailMessage.objects.filter(mailbox=mailbox, direction="in")
    rows = inbound.count()
    distinct_ids = inbound.values("message_id").distinct().count()
    tickets = inbound.exclude(ticket=None).values("ticket").distinct().count()
    # Ticket messages from these mails, and any ticket holding more than one of them.
    ticket_messages = TicketMessage.objects.filter(
        pk__in=inbound.exclude(ticket_message=None).values("ticket_message")
    ).count()
    crowded = (
        TicketMessage.objects.filter(ticket__in=inbound.values("ticket"))
        .values("ticket")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    return {
        "rows": rows,
        "distinct_message_ids": distinct_ids,
        "tickets": tickets,
        "ticket_messages": ticket_messages,
        "tickets_with_more_than_one_message": crowded,
        "missing": max(0, expected - distinct_ids),
        "stored_twice": (rows - distinct_ids)
        + max(0, ticket_messages - distinct_ids)
        + max(0, tickets - distinct_ids)
        + crowded,
    }


def bench_poller(*, count: int, small: int, judged: bool) -> list[dict[str, Any]]:
    """The backlog figures (see the module's docstring); Django is set up by the caller."""
    from django.conf import settings
    from email_bench import messages

    from tests import dovecot

    if (
        not dovecot.SCRIPT.exists()
        or not Path(os.environ.get("DOVECOT", "/usr/sbin/dovecot")).exists()
    ):
        raise RuntimeError("Dovecot is missing: apt-get install -y dovecot-imapd")
    # Straight under /tmp: Dovecot's mail user (nobody, as root) must be able to reach it.
    directory = Path(tempfile.mkdtemp(prefix="crm-poller-bench-"))
    tag = f"p{int(time.time())}"
    try:
        port = dovecot.start(directory)
        small_user, backlog_user = f"{tag}-small", f"{tag}-backlog"
        deliver(directory, small_user, messages(small, tag=f"{tag}s"))
        backlog_messages = messages(count, tag=f"{tag}b")
        backlog_bytes = sum(len(raw) for raw in backlog_messages)
        start = time.perf_counter()
        deliver(directory, backlog_user, backlog_messages)
        delivered_s = time.perf_counter() - start
        del backlog_messages

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            "DATABASE_URL": os.environ["DATABASE_URL"],  # the bench's (run.py sets it)
            "DJANGO_DEBUG": "0",  # production: no query log kept in memory
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-" + tag * 4),
            "CRM_MEDIA_ROOT": str(directory / "media"),
            "EMAIL_MESSAGE_ID_DOMAIN": "bench.example.com",
            PASSWORD_ENV: dovecot.PASSWORD,
        }
        env.pop("REDIS_URL", None)
        log = directory / "poller.log"

        from email_channel.models import Mailbox

        # Only the bench's mailboxes are polled (a reused database may hold others).
        Mailbox.objects.filter(is_active=True).exclude(imap_host="").update(is_active=False)
        # The footprint: the same job polling an empty mailbox (imports, connection, SELECT).
        empty_box = _mailbox(f"{tag}-empty", user=f"{tag}-empty", port=port)
        empty = run_poller("empty mailbox", mailbox_id=empty_box.pk, env=env, log=log)
        empty_box.is_active = False
        empty_box.save(update_fields=["is_active"])
        small_box = _mailbox(f"{tag}-small", user=small_user, port=port)
        baseline = run_poller("small backlog", mailbox_id=small_box.pk, env=env, log=log)
        small_box.is_active = False
        small_box.save(update_fields=["is_active"])

        backlog = _mailbox(f"{tag}-backlog", user=backlog_user, port=port)
        runs = [
            run_poller(
                f"backlog, killed at {share:.0%}",
                mailbox_id=backlog.pk,
                env=env,
                log=log,
                kill_at=int(count * share),
            )
            for share in KILL_AT
        ]
        runs.append(run_poller("backlog, drained", mailbox_id=backlog.pk, env=env, log=log))

        once = _exactly_once(backlog, count)
        once["not_flagged_in_mailbox"] = _not_flagged(port, backlog_user)
        small_once = _exactly_once(small_box, small)
    finally:
        dovecot.stop(directory)

    peak = max(run.peak_rss_mb for run in runs)
    ratio = working_memory_ratio(peak, small=baseline.peak_rss_mb, footprint=empty.peak_rss_mb)
    total_seconds = sum(run.seconds for run in runs)
    resumed = [run.first_message_s for run in runs[1:] if run.first_message_s is not None]
    slope = growth_per_thousand(runs, skip=2 * settings.EMAIL_IMAP_BATCH)
    memory = {
        "name": "email_poller_backlog_memory_vs_small_batch",
        "ratio": round(ratio, 3),
        "goal": GOAL_MEMORY_RATIO,
        "ok": ratio <= GOAL_MEMORY_RATIO if judged else None,
        "messages": count,
        "small_batch": small,
        "peak_rss_mb": round(peak, 1),
        "small_batch_peak_rss_mb": round(baseline.peak_rss_mb, 1),
        "empty_poll_peak_rss_mb": round(empty.peak_rss_mb, 1),
        "peak_rss_ratio": round(peak / baseline.peak_rss_mb, 3),
        "growth_over_small_batch_mb": round(peak - baseline.peak_rss_mb, 1),
        "rss_growth_mb_per_1000_messages": None if slope is None else round(slope, 2),
        "backlog_raw_mb": round(backlog_bytes / 2**20, 1),
        "messages_per_second": round(count / total_seconds, 1),
        "small_batch_messages_per_second": round(small / baseline.seconds, 1),
        "seconds_to_first_message_after_kill": [round(s, 2) for s in resumed],
        "seconds_to_first_message_cold": runs[0].first_message_s
        and round(runs[0].first_message_s, 2),
        "delivery_into_maildir_s": round(delivered_s, 2),
        "imap_batch": settings.EMAIL_IMAP_BATCH,
        "runs": [run.as_dict() for run in (empty, baseline, *runs)],
    }
    wrong = (
        once["missing"]
        + once["stored_twice"]
        + once["not_flagged_in_mailbox"]
        + small_once["missing"]
        + small_once["stored_twice"]
    )
    duplicates = {
        "name": "email_poller_backlog_missing_or_duplicated_after_kills",
        "ratio": wrong,
        "goal": 0,
        # Exactly once is judged on every run, quick or not: it holds at any size.
        "ok": wrong == 0,
        "messages": count,
        "kills": sum(run.killed for run in runs),
        "backlog": once,
        "small_batch": small_once,
    }
    return [memory, duplicates]


def main() -> int:
    """These figures alone, merged into bench/results.json (`run.py` measures every figure)."""
    import argparse
    import json
    import platform

    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--messages", type=int, default=FULL_MESSAGES)
    parser.add_argument("--small", type=int, default=FULL_SMALL_BATCH)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as scratch:
        from run import setup_django

        setup_django(Path(scratch))
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        figures = bench_poller(
            count=args.messages, small=args.small, judged=args.messages >= FULL_MESSAGES
        )
        for figure in figures:
            figure["database"] = connection.vendor
            figure["machine"] = f"{platform.platform()}, {os.cpu_count()} cpus"
    out = ROOT / "bench" / "results.json"
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"figures": []}
    results.setdefault("machine", {"platform": platform.platform(), "cpus": os.cpu_count()})
    names = {figure["name"] for figure in figures}
    results["figures"] = [f for f in results.get("figures", []) if f["name"] not in names]
    results["figures"] += figures
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
