"""Which signals `server signal` accepts, checked by the registry before it calls the node:
IceGrid's names (with or without SIG, any case) and numbers 1-63; a refusal quotes the input."""

from __future__ import annotations

import pytest

from shoal.errors import BadSignalError
from shoal.registry.admin import SIGNAL_NAMES, check_signal


@pytest.mark.parametrize("accepted", ["SIGHUP", "hup", "Term", "SIGUSR2", "1", "9", "63"])
def test_icegrids_signals_and_numbers_are_accepted(accepted: str) -> None:
    check_signal(accepted)


@pytest.mark.parametrize("refused", ["foo", "SIGFOO", "0", "64", "-9", "SIGWINCH", ""])
def test_a_bad_signal_is_quoted_as_typed_with_every_accepted_value(refused: str) -> None:
    with pytest.raises(BadSignalError) as caught:
        check_signal(refused)
    assert caught.value.message == f"bad signal `{refused}'"
    assert caught.value.signal == refused
    for name in SIGNAL_NAMES:
        assert name in caught.value.hint
    assert "1 to 63" in caught.value.hint


def test_the_accepted_names_are_icegrids_fifteen() -> None:
    assert len(SIGNAL_NAMES) == 15
    assert {"SIGHUP", "SIGKILL", "SIGTERM", "SIGTRAP", "SIGALRM"} <= set(SIGNAL_NAMES)
