"""The two emulations the dashboard test relies on: Telegraf's prometheus_client output
(tests/telegraf_prometheus_client.py) and the requests Grafana sends (tests/prometheus_stack.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_stack import go_duration, grafana_request, round_interval, shorten_for
from telegraf_prometheus_client import Exposition, PrometheusClientConfig

from telegraf_lutron.lineproto_parse import parse_stream

CONF = Path(__file__).resolve().parent.parent / "telegraf.conf.example"


def exposition_of(text: str, config: PrometheusClientConfig | None = None, now: float = 0.0) -> Exposition:
    metrics, errors = parse_stream(text)
    assert errors == []
    exposition = Exposition(config or PrometheusClientConfig.from_telegraf_conf(CONF))
    exposition.flush([(m, 0) for m in metrics], now=now)
    return exposition


def test_a_line_becomes_the_family_the_contract_shows() -> None:
    text = exposition_of("lutron_power,site=home watts=230.5\n").text(now=1.0)
    assert text == (
        "# HELP lutron_power_watts Telegraf collected metric\n"
        "# TYPE lutron_power_watts gauge\n"
        'lutron_power_watts{site="home"} 230.5\n'
    )


def test_types_come_from_the_shipped_metric_types_and_gauge_wins() -> None:
    text = exposition_of(
        "lutron_power,site=home energy_joules_total=5,lights_total=4\nlutron_other,site=home x=1i,b=true\n"
    ).text(now=1.0)
    assert "# TYPE lutron_power_energy_joules_total counter" in text
    assert "# TYPE lutron_other_x untyped" in text and 'lutron_other_b{site="home"} 1.0' in text
    assert 'lutron_other_x{site="home"} 1.0' in text


def test_series_expire_after_the_flush_that_last_wrote_them_and_old_points_are_ignored() -> None:
    exposition = exposition_of("m,site=a v=1 2000000000\n", now=0.0)
    metrics, _ = parse_stream("m,site=a v=2 1000000000\n")  # older than the stored point
    exposition.flush([(metrics[0], 0)], now=30.0)
    assert 'm_v{site="a"} 1.0' in exposition.text(now=59.0)
    assert exposition.text(now=60.5) == ""  # 60 s after the flush that wrote it, not the ignored one


def test_labels_are_escaped_and_strings_dropped_without_string_as_label() -> None:
    config = PrometheusClientConfig(metric_types={}, string_as_label=False)
    text = exposition_of('m,area=Kids\'\\ "Bath" v=1,s="x"\n', config).text(now=1.0)
    assert text.splitlines()[-1] == 'm_v{area="Kids\' \\"Bath\\""} 1.0'
    assert "m_s" not in text


@pytest.mark.apt
def test_promtool_accepts_the_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: apt-get install prometheus")
    text = exposition_of(
        'lutron_zone,site=home,zone_id=1,zone=A\\ "b" level=50,energy_joules_total=3\n'
        "lutron_power,site=home watts=230.5\n"
    ).text(now=1.0)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    # promtool lints HELP texts and counter suffixes; a parse error would fail outright.
    assert result.returncode in (0, 3) and "error while linting" not in result.stderr, result.stderr


def test_grafana_rounds_intervals_like_grafana() -> None:
    assert [round_interval(ms) for ms in (91_000, 89_999, 57_600, 288_000, 3_600_000)] == [
        120_000,
        60_000,
        60_000,
        300_000,
        3_600_000,
    ]
    assert [go_duration(ms) for ms in (40_000, 130_000, 3_600_000)] == ["40s", "2m10s", "1h0m0s"]
    assert (shorten_for("15m", 1 / 60), shorten_for("30s", 1 / 60)) == ("15s", "1s")


def panel(w: int, **options: object) -> dict[str, object]:
    return {"title": "p", "gridPos": {"w": w, "h": 8, "x": 0, "y": 0}, **options}


def test_a_range_query_steps_by_the_panel_width_and_is_aligned_down() -> None:
    now = 1_800_000_123.0
    target = {"refId": "A", "expr": "rate(m[$__rate_interval]) * $__range_s", "range": True}
    r = grafana_request(
        panel(12), target, time_from=now - 86400, time_to=now, datasource_interval="10s", variables={}
    )
    # 86400 s over 944 px is 91.5 s: rounded to 2 minutes; $__rate_interval = 2m + one scrape.
    assert r.step == 120 and r.expr == "rate(m[2m10s]) * 86400"
    assert (r.end, r.start) == (now - now % 120, (now - 86400) - (now - 86400) % 120)


def test_min_interval_and_max_data_points_set_the_step_and_an_instant_query_is_unaligned() -> None:
    now = 1_800_000_123.0
    hourly = {"refId": "A", "expr": "increase(m[$__interval])", "range": True, "interval": "1h"}
    r = grafana_request(
        panel(12), hourly, time_from=now - 86400, time_to=now, datasource_interval="10s", variables={}
    )
    assert r.step == 3600 and r.end == now - now % 3600 and r.expr == "increase(m[1h])"
    fine = {"refId": "A", "expr": "m", "range": True}
    r = grafana_request(
        panel(4, maxDataPoints=8640),
        fine,
        time_from=now - 86400,
        time_to=now,
        datasource_interval="10s",
        variables={},
    )
    assert r.step == 10
    instant = {"refId": "A", "expr": 'm{site=~"$site"}[$__range]', "instant": True, "range": False}
    r = grafana_request(
        panel(4),
        instant,
        time_from=now - 86400,
        time_to=now,
        datasource_interval="10s",
        variables={"site": ".*"},
    )
    assert r.instant and r.end == now and r.expr == 'm{site=~".*"}[86400s]'
