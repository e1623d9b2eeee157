"""The node daemon's command line (written by the CLI; read without argparse)."""

from __future__ import annotations

import pytest

from shoal.node.daemon import _Arguments


def test_options_in_both_spellings_and_property_overrides() -> None:
    arguments = _Arguments(
        ["--site", "/s", "--name=node1", "--ready-fd=5", "--hold-fd", "7", "--Ice.Trace=1"]
    )
    assert (arguments.site, arguments.name, arguments.ready_fd, arguments.hold_fd) == (
        "/s",
        "node1",
        5,
        7,
    )
    assert arguments.overrides == ["--Ice.Trace=1"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--name", "x"], "--site is required"),
        (["--site", "/s", "--name", "x", "stray"], "unexpected argument 'stray'"),
        (["--site", "/s", "--name", "x", "--ready-fd", "q"], "--ready-fd: not a number"),
        (["--site", "/s", "--name"], "--name needs a value"),
    ],
)
def test_a_bad_command_line_is_a_usage_error(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _Arguments(argv)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
