"""One web command: the image, docker-compose, `make web` and CI's smoke all start scripts/serve."""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def test_the_image_compose_make_and_ci_start_the_web_process_the_same_way() -> None:
    serve = ROOT / "scripts" / "serve"
    assert os.access(serve, os.X_OK)
    assert "gunicorn crm.asgi:application" in serve.read_text()
    assert "uvicorn_worker.UvicornWorker" in serve.read_text()
    assert 'CMD ["scripts/serve"]' in (ROOT / "Dockerfile").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    web = compose.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]
    assert 'command: ["scripts/serve"]' in web
    make_web = re.search(r"^web:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert make_web is not None and "scripts/serve" in make_web.group(0)
    assert "scripts/serve" in (ROOT / ".ci" / "run").read_text()
    # Nothing else starts gunicorn on its own.
    for path in ("Dockerfile", "docker-compose.yml", "Makefile", ".ci/run"):
        assert "gunicorn crm." not in (ROOT / path).read_text(), path
