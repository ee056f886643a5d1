"""Static files in the production shape: the vendored files are whole, and collectstatic runs."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from tests.crm.test_settings import _manage, _production

VENDOR = Path(settings.BASE_DIR) / "static" / "vendor"
SOURCE_MAP = re.compile(r"[#@] sourceMappingURL=(\S+)")


def test_every_source_map_a_vendored_file_names_is_vendored_too() -> None:
    # The manifest storage follows these references and fails collectstatic on a missing one.
    checked = []
    for path in sorted(VENDOR.rglob("*")):
        if path.suffix not in {".js", ".css"}:
            continue
        for name in SOURCE_MAP.findall(path.read_text(encoding="utf-8")):
            checked.append(name)
            assert (path.parent / name).is_file(), f"{path.name} names {name}, which is missing"
    assert "chart.umd.min.js.map" in checked


def test_collectstatic_succeeds_in_the_production_configuration(tmp_path: Path) -> None:
    env = _production(tmp_path, f"sqlite:///{tmp_path}/crm.sqlite3")

    result = _manage(env, "collectstatic", "--noinput")

    assert result.returncode == 0, result.stdout + result.stderr
    manifest = (tmp_path / "static" / "staticfiles.json").read_text(encoding="utf-8")
    assert "vendor/chartjs/chart.umd.min.js" in manifest
    assert "vendor/htmx/htmx.min.js" in manifest
