"""One root above every error family: a caller can catch everything the package raises on purpose."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import telegraf_lutron
from telegraf_lutron.errors import TelegrafLutronError

# Exceptions that never leave their module: control flow, not errors a caller can see.
INTERNAL = {
    "telegraf_lutron.simulator.commands.CommandError",  # becomes the simulator's `~ERROR,<n>` reply
    "telegraf_lutron.simulator.server.LineTooLong",  # ends the simulated connection
}
# Modules that run something when imported: Streamlit pages and `python -m` entry points.
NOT_IMPORTED = ("telegraf_lutron.webui",)


def package_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(telegraf_lutron.__path__, "telegraf_lutron."):
        if info.name.startswith(NOT_IMPORTED) or info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_public_exception_of_the_package_is_a_telegraf_lutron_error() -> None:
    found = package_exceptions()
    assert "telegraf_lutron.connection.LoginError" in found  # the walk did find the package
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, TelegrafLutronError))
    assert outside == sorted(INTERNAL)


@pytest.mark.parametrize(
    "family",
    [
        "telegraf_lutron.config.ConfigError",
        "telegraf_lutron.connection.SessionError",
        "telegraf_lutron.design.DesignError",
        "telegraf_lutron.db.DbError",
        "telegraf_lutron.ui_cli.UiError",
        "telegraf_lutron.lineprotocol.LineProtocolError",
        "telegraf_lutron.lineproto_parse.LineProtocolParseError",
        "telegraf_lutron.simulator.cli.UsageError",
    ],
)
def test_each_layer_family_sits_directly_under_the_root(family: str) -> None:
    module, _, name = family.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert TelegrafLutronError in cls.__bases__


def test_the_session_re_exports_its_errors_from_the_connection() -> None:
    from telegraf_lutron import connection, session

    for name in (
        "SessionError",
        "LoginError",
        "LoginFailed",
        "NotConnected",
        "CommandError",
        "CommandTimeout",
    ):
        assert getattr(session, name) is getattr(connection, name)
        assert issubclass(getattr(session, name), TelegrafLutronError)


def test_a_root_catch_gets_a_login_error_with_its_one_line_message() -> None:
    from telegraf_lutron.session import LoginError

    with pytest.raises(TelegrafLutronError) as info:
        raise LoginError("10.0.0.5", 23, "telegraf")
    assert "\n" not in str(info.value)
