"""The telephony events endpoint's throughput: the events of many concurrent calls.

Each call rings (newCall), two in three are answered, every one hangs up; the events of all
calls are interleaved at random (each call's own events in order), as a PBX with that many
calls in progress sends them. They are POSTed one by one through the whole stack (URL
routing, token authentication, permission, throttle, parser, serializer, the service and its
signals) to POST /api/v1/telephony/events/. The floor is the same rows written raw: per event
one transaction inserting the event and inserting or updating the call and its interaction.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

# A PBX with 1,000 calls in progress of three minutes on average starts 1000 / 180 = 5.6 calls
# a second, some 15 events a second; the endpoint should take three times that in one process.
GOAL_EVENTS_PER_SECOND = 50.0
SEED = 19


def call_events(calls: int, numbers: list[str], *, run: str = "") -> list[dict[str, Any]]:
    """The events of `calls` calls, interleaved at random, each call's own in order; call IDs
    carry `run`, so that a database measured before holds none of them."""
    rng = random.Random(SEED)
    per_call: list[list[dict[str, Any]]] = []
    for index in range(calls):
        call_id = f"bench-{run}{index}"
        number = numbers[index % len(numbers)] if numbers else f"+7900{index:07d}"
        events = [
            {"event": "newCall", "callId": call_id, "direction": "in", "from": number,
             "to": "+74950000000", "user[]": ["201"], "queue": "support"},
        ]  # fmt: skip
        if rng.random() < 2 / 3:
            events.append({"event": "answer", "callId": call_id, "answeringNumber": "201"})
        events.append({"event": "hangup", "callId": call_id, "cause": "normalClearing"})
        per_call.append(events)
    interleaved: list[dict[str, Any]] = []
    pending = [list(reversed(events)) for events in per_call]
    while pending:
        pick = rng.randrange(len(pending))
        interleaved.append(pending[pick].pop())
        if not pending[pick]:
            pending[pick] = pending[-1]
            pending.pop()
    return interleaved


def _through_the_endpoint(events: list[dict[str, Any]]) -> float:
    from rest_framework.test import APIClient

    from accounts.models import User

    User.objects.get_or_create(username="bench-operator", defaults={"phone_extension": "201"})
    token = _token()
    client = APIClient(HTTP_HOST="localhost")  # a host ALLOWED_HOSTS holds by default
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    start = time.perf_counter()
    for event in events:
        response = client.post("/api/v1/telephony/events/", event, format="json")
        if response.status_code != 200:
            raise RuntimeError(f"{event}: {response.status_code} {response.content[:300]!r}")
    return time.perf_counter() - start


def _token() -> str:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "create_api_token", "bench-pbx", "--create-user", "--group", "Telephony", stdout=out
    )
    return out.getvalue().strip()


def _raw(events: list[dict[str, Any]]) -> float:
    """The floor: the event row, the call row and the interaction row, in raw SQL."""
    import json

    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now() - dt.timedelta(minutes=1)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for event in events:
            call_id = "raw-" + event["callId"]
            with transaction.atomic():
                cursor.execute(
                    "INSERT INTO telephony_callevent (call_id, event, occurred_at, payload, "
                    "received_at) VALUES (%s, %s, %s, %s, %s)",
                    [call_id, event["event"], now, json.dumps(event), now],
                )
                if event["event"] == "newCall":
                    cursor.execute(
                        "INSERT INTO customers_interaction (kind, channel, direction, "
                        "contact_address, external_id, started_at, personalized, summary, "
                        "created_at, updated_at) VALUES ('contact', 'phone', 'inbound', %s, %s, "
                        "%s, %s, '', %s, %s)",
                        [event["from"], call_id, now, False, now, now],
                    )
                    cursor.execute(
                        "INSERT INTO telephony_call (call_id, direction, caller, called, queue, "
                        "rang_at, cause) VALUES (%s, 'in', %s, %s, %s, %s, '')",
                        [call_id, event["from"], event["to"], event["queue"], now],
                    )
                else:
                    column = "answered_at" if event["event"] == "answer" else "ended_at"
                    cursor.execute(
                        f"UPDATE telephony_call SET {column} = %s WHERE call_id = %s",
                        [now, call_id],
                    )
                    cursor.execute(
                        f"UPDATE customers_interaction SET {column} = %s "
                        "WHERE channel = 'phone' AND external_id = %s",
                        [now, call_id],
                    )
    return time.perf_counter() - start


def bench_call_events(*, calls: int, numbers: list[str], judged: bool) -> dict[str, Any]:
    """The endpoint's time per event against the goal's budget (1/50 s), and the raw writes."""
    events = call_events(calls, numbers, run=f"{time.time_ns()}-")
    endpoint = _through_the_endpoint(events)
    floor = _raw(events)
    per_second = len(events) / endpoint
    budget = 1.0 / GOAL_EVENTS_PER_SECOND
    ratio = round((endpoint / len(events)) / budget, 3)
    return {
        "name": "telephony_events_endpoint_time_vs_budget",
        "measured": "seconds per event through the whole endpoint",
        "baseline": f"the goal's budget: 1/{GOAL_EVENTS_PER_SECOND:.0f} s an event",
        "ratio": ratio,
        "goal": 1.0,
        "ok": ratio <= 1.0 if judged else None,
        "concurrent_calls": calls,
        "events": len(events),
        "events_per_second": round(per_second, 1),
        "goal_events_per_second": GOAL_EVENTS_PER_SECOND,
        "raw_events_per_second": round(len(events) / floor, 1),
        "ratio_to_raw_writes": round(endpoint / floor, 2),
    }


def main() -> int:
    """This figure alone, merged into bench/results.json (`run.py` measures every figure)."""
    import argparse
    import json
    import os
    import platform
    import sys
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--calls", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as scratch:
        from run import setup_django

        setup_django(Path(scratch))
        from django.core.management import call_command
        from django.db import connection

        from customers.models import ContactPoint

        call_command("migrate", verbosity=0)
        if not ContactPoint.objects.filter(kind="phone").exists():
            call_command("generate_data", customers=2_000, seed=7, verbosity=0)
        numbers = list(
            ContactPoint.objects.filter(kind="phone")
            .order_by("pk")
            .values_list("normalised_value", flat=True)[:20]
        )
        figure = bench_call_events(calls=args.calls, numbers=numbers, judged=args.calls >= 1_000)
        figure["database"] = connection.vendor
        figure["machine"] = f"{platform.platform()}, {os.cpu_count()} cpus"
    out = root / "bench" / "results.json"
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"figures": []}
    results.setdefault("machine", {"platform": platform.platform(), "cpus": os.cpu_count()})
    results["figures"] = [f for f in results.get("figures", []) if f["name"] != figure["name"]]
    results["figures"].append(figure)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(figure, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
