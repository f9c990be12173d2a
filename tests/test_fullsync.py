"""engine/fsmonitor/fullsync.py: the SIGUSR1 full-sync request, transition by transition."""

from __future__ import annotations

from engine.fsmonitor.fullsync import FullSyncRequest, RequestState


def test_a_request_is_rescanned_taken_and_counted_once() -> None:
    req = FullSyncRequest()
    assert not req.rescan_due
    assert not req.cycle_ended()  # a cycle with no request counts nothing
    req.request()
    assert req.state is RequestState.REQUESTED and req.rescan_due
    req.rescanned()
    assert req.state is RequestState.RESCANNED and not req.rescan_due
    assert not req.cycle_ended()  # the rescan is not taken yet: that cycle did not carry it
    req.cycle_started()
    assert req.state is RequestState.SYNCING
    assert req.cycle_ended()
    assert req.state is RequestState.IDLE
    assert not req.cycle_ended()


def test_a_cycle_that_started_before_the_rescan_does_not_carry_it() -> None:
    req = FullSyncRequest()
    req.cycle_started()
    req.request()
    assert req.state is RequestState.REQUESTED
    assert not req.cycle_ended()


def test_requests_before_the_rescan_is_taken_are_one_request() -> None:
    req = FullSyncRequest()
    req.request()
    req.request()
    req.rescanned()
    req.request()
    assert req.state is RequestState.RESCANNED and not req.rescan_due


def test_a_request_during_a_carried_cycle_gets_its_own_rescan_and_cycle() -> None:
    req = FullSyncRequest()
    req.request()
    req.rescanned()
    req.cycle_started()
    req.request()
    assert _state(req) is RequestState.SYNCING_REQUESTED and req.rescan_due
    req.rescanned()
    assert _state(req) is RequestState.SYNCING_RESCANNED
    req.cycle_started()  # (cannot happen mid-cycle; leaves the state as it is)
    assert _state(req) is RequestState.SYNCING_RESCANNED
    assert req.cycle_ended()
    assert _state(req) is RequestState.RESCANNED
    req.cycle_started()
    assert req.cycle_ended()
    assert _state(req) is RequestState.IDLE


def test_a_request_during_a_carried_cycle_before_its_rescan() -> None:
    req = FullSyncRequest()
    req.request()
    req.rescanned()
    req.cycle_started()
    req.request()
    assert req.cycle_ended()
    assert req.state is RequestState.REQUESTED and req.rescan_due


def _state(req: FullSyncRequest) -> RequestState:
    """The state, read through a call (mypy would keep the narrowed type of ``req.state``)."""
    return req.state
