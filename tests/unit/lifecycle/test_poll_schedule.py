from batchrelay.lifecycle import poll_schedule as ps

T0 = 1_000_000.0


def test_soon_after_submission_checks_every_minute():
    assert ps.next_check_delay(now=T0 + 30, created_at=T0, total=100, completed=0) == ps.MIN_DELAY_S


def test_with_progress_waits_half_the_estimated_remaining_time():
    # 1 hour in, 25% done: 3 hours left at this rate; half of it is capped at 30 minutes.
    assert ps.next_check_delay(now=T0 + 3600, created_at=T0, total=100, completed=25) == 30 * 60
    # 1 hour in, 90% done: 400 s left -> look in 200 s.
    assert ps.next_check_delay(now=T0 + 3600, created_at=T0, total=100, completed=90) == 200


def test_close_to_the_end_or_finalizing_checks_every_minute():
    assert ps.next_check_delay(now=T0 + 3600, created_at=T0, total=1000, completed=999) == ps.MIN_DELAY_S
    assert ps.next_check_delay(now=T0 + 3600, created_at=T0, total=100, completed=100) == ps.MIN_DELAY_S


def test_without_progress_the_wait_grows_with_age_up_to_a_cap():
    assert ps.next_check_delay(now=T0 + 600, created_at=T0, total=100, completed=0) == 150
    assert ps.next_check_delay(now=T0 + 20 * 3600, created_at=T0, total=100, completed=0) == (
        ps.MAX_DELAY_WITHOUT_PROGRESS_S
    )


def test_estimated_remaining():
    assert ps.estimated_remaining_s(age_s=100, total=10, completed=5) == 100
    assert ps.estimated_remaining_s(age_s=100, total=10, completed=0) is None


def test_hold_delay_grows_and_is_capped():
    assert ps.hold_delay(1) == ps.HOLD_BASE_S
    assert ps.hold_delay(2) == 2 * ps.HOLD_BASE_S
    assert ps.hold_delay(50) == ps.HOLD_MAX_S


def test_the_shortest_wait_is_a_setting(monkeypatch):
    from batchrelay.settings import get_settings

    # Deployed, the schedule fires every minute: never sooner than 60 s
    assert ps.next_check_delay(now=T0 + 30, created_at=T0, total=100, completed=0) == 60
    # Local mode fires every few seconds against the simulator and lowers it
    monkeypatch.setenv("POLL_MIN_DELAY_SECONDS", "2")
    get_settings.cache_clear()
    try:
        assert ps.next_check_delay(now=T0 + 30, created_at=T0, total=100, completed=0) == 2
    finally:
        monkeypatch.delenv("POLL_MIN_DELAY_SECONDS")
        get_settings.cache_clear()


def test_without_progress_counts_every_run_looks():
    # Nothing predicts the end of such a batch (Anthropic): the poller sweeps it every run.
    for age in (30, 600, 20 * 3600):
        assert ps.next_check_delay(
            now=T0 + age, created_at=T0, total=100, completed=0, progress_counts=False
        ) == ps.MIN_DELAY_S
