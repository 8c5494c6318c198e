"""lesson: the calls a stage makes, as a stage makes them."""

from __future__ import annotations

import io

from nnreally import recording
from nnreally.lesson import untimed
from nnreally.recording import Recording


def test_untimed_work_is_kept_out_of_the_epoch(monkeypatch):
    now = iter([0.0, 1.0, 2.0, 3.0, 33.0, 33.0, 34.0])  # the clock at each reading below
    monkeypatch.setattr(recording, "clock", lambda: next(now))
    out = io.StringIO()
    with recording.opened(Recording(out=out)) as opened:  # 0: opened
        opened.record([1.0], 0.6, 0.8)  # 1 - 0: the first epoch took 1 s
        with untimed("compiling the step"):  # 2: started
            assert out.getvalue().endswith("compiling the step ...\n")  # said before the wait
        opened.record([1.0], 0.5, 0.9)  # 33 - 2 - 30 untimed: the second took 1 s too
    run = opened.finish()
    assert run.untimed == {"compiling the step": 30.0}
    assert [e.seconds for e in run.history] == [1.0, 1.0]
    assert "compiling the step: 30.0 s (not counted in the epochs' times)" in out.getvalue()
    assert run.to_json()["untimed_seconds"] == run.untimed
