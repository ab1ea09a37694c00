"""The shared "start a server process and wait until it answers" helper (schedule, bench, drills)."""

from __future__ import annotations

import sys
import time

import pytest

from pipeline.run.childproc import ServeError, answers, free_port, serving


def test_the_block_runs_once_the_child_answers_and_the_child_is_stopped_after(tmp_path):
    (tmp_path / "ready.txt").write_text("up\n")
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with serving(argv, f"http://127.0.0.1:{port}/ready.txt", what="a file server", timeout=30) as proc:
        assert answers(f"http://127.0.0.1:{port}/ready.txt")
        assert proc.poll() is None
    assert proc.poll() is not None, "the child outlived the block"
    assert not answers(f"http://127.0.0.1:{port}/ready.txt")


def test_a_child_that_exits_first_is_reported_with_its_error_output():
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('no database at /nowhere.db'); sys.exit(3)"]
    with pytest.raises(ServeError) as caught:
        with serving(argv, f"http://127.0.0.1:{free_port()}/", what="scrutiny serve", timeout=30):
            pytest.fail("the block ran although the child never answered")
    message = str(caught.value)
    assert "scrutiny serve exited with code 3" in message and "no database at /nowhere.db" in message


def test_a_child_that_never_answers_times_out_and_is_stopped():
    argv = [sys.executable, "-c", "import time; time.sleep(600)"]
    started = time.monotonic()
    with pytest.raises(ServeError, match=r"a silent server did not answer .* within 1 s"):
        with serving(argv, f"http://127.0.0.1:{free_port()}/", what="a silent server", timeout=1.0, stop_timeout=5):
            pass
    assert time.monotonic() - started < 30  # stopped, not waited for
