"""How `shoal` ends: a bug is one line (no traceback without --debug); a command's exit code
reaches the shell; the descriptor commands' exit codes."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import pytest

from shoal.cli import check as check_module
from shoal.cli.main import run

ROOT = Path(__file__).resolve().parents[3]
APP = (
    '<icegrid><application name="{name}"><node name="n"><server id="S" exe="{exe}"/></node>'
    "</application></icegrid>"
)


def test_an_unexpected_exception_is_one_line_without_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded\nwhile calling")

    monkeypatch.setattr(check_module, "load_checked", broken)
    (tmp_path / "a.xml").write_text(APP.format(name="A", exe="x"))
    code = run(["shoal", "admin", "check", str(tmp_path / "a.xml")])
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "shoal: internal error: RecursionError: maximum recursion depth exceeded while calling "
        "(run with --debug for the traceback)\n"
    )


def test_with_debug_the_unexpected_exception_propagates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("x")

    monkeypatch.setattr(check_module, "load_checked", broken)
    (tmp_path / "a.xml").write_text(APP.format(name="A", exe="x"))
    with pytest.raises(KeyError):
        run(["shoal", "--debug", "admin", "check", str(tmp_path / "a.xml")])


def test_diff_exit_code_is_one_when_there_are_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(APP.format(name="A", exe="x"))
    new.write_text(APP.format(name="A", exe="y"))
    assert run(["shoal", "admin", "diff", "--exit-code", str(old), str(new)]) == 1
    assert run(["shoal", "admin", "diff", "--exit-code", str(old), str(old)]) == 0
    assert run(["shoal", "admin", "diff", str(old), str(new)]) == 0
    assert "      exe: x -> y" in capsys.readouterr().out


def test_diff_warns_when_the_application_names_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(APP.format(name="A", exe="x"))
    new.write_text(APP.format(name="B", exe="x"))
    assert run(["shoal", "admin", "diff", "--exit-code", str(old), str(new)]) == 1
    err = capsys.readouterr().err
    assert f"a deploy of {new} would add a new application `B', not update `A'" in err


def test_check_warnings_go_to_stderr_and_keep_exit_code_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.xml").write_text(APP.format(name="A", exe="x"))
    assert run(["shoal", "admin", "check", str(tmp_path / "a.xml"), "secure", "X=1"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "shoal: warning: target `secure' matches no <target> in the descriptor",
        "shoal: warning: variable `X' is never used (no ${X} in what was deployed)",
    ]
    assert "descriptor OK" in captured.out


def test_a_mistyped_descriptor_fails_instead_of_checking_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["shoal", "admin", "check", "etc/grid/my-site.xlm"]) == 1
    assert capsys.readouterr().err.startswith(
        "shoal: descriptor etc/grid/my-site.xlm does not exist"
    )


def test_license_is_an_spdx_string_setuptools_reads_without_warning() -> None:
    """The TOML table form made setuptools warn on every build (9 times in `make run`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-2-Clause"
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyprojecttoml.read_configuration(ROOT / "pyproject.toml")
