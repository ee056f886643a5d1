"""Benchmarks: each figure is a ratio against a baseline measured in the same run.

Absolute times depend on the machine; a ratio of two timings taken side by side does not
(much). Results go to bench/results.json as {"machine": ..., "figures": [...]}.

    python bench/run.py            # full size
    python bench/run.py --quick    # small data, for a smoke run

By default it works in a scratch SQLite file; set BENCH_DATABASE_URL to a PostgreSQL
database (it is migrated and filled) to measure there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL_CUSTOMERS = 50_000
QUICK_CUSTOMERS = 2_000
# Share of the metrics goal (10M survey responses, 5M purchases) generated for that figure.
FULL_METRICS_SCALE = 0.2
QUICK_METRICS_SCALE = 0.002
REPEATS = 30
# The name search: letters typed of a last name, how many names, how many timed runs each.
SEARCH_FRAGMENT = 4
SEARCH_SAMPLES = 10
SEARCH_REPEATS = 5
# The telephony events endpoint: calls in progress at once (the 1,000), and quick.
FULL_CONCURRENT_CALLS = 1_000
QUICK_CONCURRENT_CALLS = 50


def setup_django(scratch: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}"
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def best_of(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The median of `repeats` timings, in seconds (the median resists a noisy neighbour)."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bench_caller_id(samples: list[str], *, judged: bool) -> dict[str, Any]:
    """Caller-ID lookup by any spelling vs the naive substring scan over typed values."""
    from customers.models import ContactPoint
    from customers.selectors import customers_by_phone

    def indexed() -> None:
        for spelling in samples:
            list(customers_by_phone(spelling).values_list("id", flat=True))

    def naive() -> None:
        for spelling in samples:
            digits = "".join(ch for ch in spelling if ch.isdigit())[-10:]
            list(
                ContactPoint.objects.filter(value__contains=digits[-4:]).values_list(
                    "customer_id", flat=True
                )
            )

    fast, slow = best_of(indexed), best_of(naive)
    return {
        "name": "caller_id_lookup_vs_substring_scan",
        "ratio": round(fast / slow, 4),
        "goal": "<= 0.2",
        # A quick run's data is too small for the index to show; only full runs are judged.
        "ok": fast / slow <= 0.2 if judged else None,
        "lookup_ms": round(fast * 1000 / len(samples), 3),
        "baseline_ms": round(slow * 1000 / len(samples), 3),
    }


def name_fragments(count: int) -> list[str]:
    """Middles of real customers' last names ("vanov" of "Ivanova"), as an operator types them."""
    from customers.models import Customer

    names = Customer.objects.order_by("?").values_list("full_name", flat=True)[: count * 3]
    fragments = []
    for name in names:
        last = name.split()[-1]
        if len(last) >= SEARCH_FRAGMENT + 2:
            fragments.append(last[1 : 1 + SEARCH_FRAGMENT])
    return fragments[:count]


def bench_name_search(fragments: list[str], *, judged: bool) -> dict[str, Any]:
    """The search box on part of a name, with its trigram index vs the same search without it.

    On PostgreSQL the baseline runs the same query with index scans switched off for its
    transaction (a sequential scan, what a plain LIKE gets); SQLite has no trigram index, so
    its ratio is about 1 and only PostgreSQL runs are judged.
    """
    from django.db import connection, transaction

    from customers.search import search_customers

    def indexed() -> None:
        for fragment in fragments:
            search_customers(fragment)

    def scan() -> None:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL enable_bitmapscan = off")
                    cursor.execute("SET LOCAL enable_indexscan = off")
            for fragment in fragments:
                search_customers(fragment)

    fast, slow = best_of(indexed, repeats=SEARCH_REPEATS), best_of(scan, repeats=SEARCH_REPEATS)
    per_search_ms = fast * 1000 / len(fragments)
    return {
        "name": "name_search_vs_sequential_scan",
        "ratio": round(fast / slow, 4),
        "goal": "<= 0.2, and each search well under a second (<= 300 ms)",
        "ok": (fast / slow <= 0.2 and per_search_ms <= 300)
        if judged and connection.vendor == "postgresql"
        else None,
        "search_ms": round(per_search_ms, 2),
        "baseline_ms": round(slow * 1000 / len(fragments), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, a smoke run")
    parser.add_argument(
        "--metrics-scale",
        type=float,
        default=None,
        help="share of 10M survey responses / 5M purchases for the metrics figures "
        f"(default {FULL_METRICS_SCALE}, quick {QUICK_METRICS_SCALE}; 1.0 is the full goal)",
    )
    args = parser.parse_args()
    metrics_scale = args.metrics_scale or (
        QUICK_METRICS_SCALE if args.quick else FULL_METRICS_SCALE
    )
    customers = QUICK_CUSTOMERS if args.quick else FULL_CUSTOMERS

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as scratch:
        setup_django(Path(scratch))
        from django.core.management import call_command
        from django.db import connection

        from customers.models import ContactPoint

        call_command("migrate", verbosity=0)
        if ContactPoint.objects.count() < customers:
            call_command("generate_data", customers=customers, seed=7, verbosity=0)
        phones = list(
            ContactPoint.objects.filter(kind="phone")
            .order_by("?")
            .values_list("normalised_value", flat=True)[:20]
        )
        # Read them out as callers' numbers arrive from telephony: "8 (912) ..." spellings.
        samples = [
            f"8 ({p[2:5]}) {p[5:8]}-{p[8:10]}-{p[10:]}" if p.startswith("+7") else p for p in phones
        ]
        figures = [
            bench_caller_id(samples, judged=not args.quick),
            bench_name_search(name_fragments(SEARCH_SAMPLES), judged=not args.quick),
        ]
        import poller_bench
        from email_bench import FULL_MESSAGES, QUICK_MESSAGES, bench_email_ingest
        from metrics_bench import bench_metrics  # bench/ is on the path as the script's folder
        from telephony_bench import bench_call_events

        figures.append(
            bench_call_events(
                calls=QUICK_CONCURRENT_CALLS if args.quick else FULL_CONCURRENT_CALLS,
                numbers=phones,
                judged=not args.quick,
            )
        )

        figures.append(
            bench_email_ingest(
                count=QUICK_MESSAGES if args.quick else FULL_MESSAGES, judged=not args.quick
            )
        )
        # The IMAP poller draining a backlog in a private Dovecot, killed twice on the way.
        figures += poller_bench.bench_poller(
            count=poller_bench.QUICK_MESSAGES if args.quick else poller_bench.FULL_MESSAGES,
            small=poller_bench.QUICK_SMALL_BATCH if args.quick else poller_bench.FULL_SMALL_BATCH,
            judged=not args.quick,
        )
        metrics_figures, metrics_machine = bench_metrics(scale=metrics_scale, judged=not args.quick)
        figures += metrics_figures
        result = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "database": connection.vendor,
                "customers": customers,
                **metrics_machine,
            },
            "figures": figures,
        }
    out = ROOT / "bench" / "results.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for figure in figures:
        status = {True: "ok", False: "MISSED", None: "(quick run: goal not judged)"}[figure["ok"]]
        print(f"{figure['name']}: ratio {figure['ratio']} (goal {figure['goal']}) {status}")
        if "year_within_goal" in figure:  # the metrics' absolute goal: a few seconds a year
            within = {True: "ok", False: "MISSED", None: "(not judged)"}[figure["year_within_goal"]]
            print(
                f"  dashboard for a year: {figure['dashboard_year_s']} s "
                f"(goal <= {figure['year_goal_s']} s) {within}; at the full size "
                f"~{figure['dashboard_year_at_full_scale_s_estimated']} s "
                + ("(measured)" if figure["measured_at_full_scale"] else "(linear estimate)")
            )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
