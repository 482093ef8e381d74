"""Elapsed time, rate and ETA on long work (issue 25, defect 7): persd_app.tabs.timing."""

from __future__ import annotations

from persd_app.tabs.timing import duration, timing


def test_timing_says_elapsed_rate_and_what_is_left():
    assert timing(120.0, done=15, total=30, unit="steps") == \
        "2m 00s elapsed · 0.12 steps/s · about 2m 00s left"
    assert timing(70.0, done=0, total=12, unit="samples") == \
        "1m 10s elapsed · no samples done yet"
    assert timing(10.0, done=200, total=None, unit="samples") == "10s elapsed · 20 samples/s"
    assert timing(5.0, done=12, total=12, unit="samples").endswith("2.40 samples/s")
    assert duration(3 * 3600 + 65) == "3h 01m" and duration(-4) == "0s"
