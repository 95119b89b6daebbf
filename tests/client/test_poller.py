"""client/poller.py: azure-core's LROPoller words for an operation's status."""

from __future__ import annotations

import pytest

from ferry.client.poller import Poller
from ferry.errors import ServerError


def test_status_is_in_progress_until_done_then_succeeded() -> None:
    answers = iter([(False, None), (True, "done")])
    poller: Poller[str | None] = Poller(lambda: next(answers), interval=0)
    assert poller.status() == "InProgress"
    assert poller.status() == "Succeeded"
    assert poller.result() == "done"
    assert Poller.completed(1).status() == "Succeeded"


def test_result_past_its_timeout_says_to_poll_again() -> None:
    poller: Poller[None] = Poller(lambda: (False, None), interval=0)
    with pytest.raises(ServerError, match=r"did not finish within 0 s; poll again"):
        poller.result(timeout=0)
