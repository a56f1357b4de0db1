"""Stop signals (genjax/train/preemption.py): a signal only sets a flag."""
import os
import signal

import pytest

from genjax.train import preemption


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_only_sets_a_flag(signum, code):
    before = signal.getsignal(signum)
    stop = preemption.StopSignal().install()
    try:
        assert not stop.should_stop(0)
        os.kill(os.getpid(), signum)  # handled between bytecodes: no exception here
        os.kill(os.getpid(), signum)  # a second one is ignored too
        assert stop.should_stop(1) and stop.signum == signum
    finally:
        stop.restore()
    assert signal.getsignal(signum) is before
    assert preemption.Preempted(signum, 7, True).exit_code == code
    pending = preemption.StopSignal(pending=[signal.SIGINT])  # recorded before install (start-up)
    assert pending.should_stop(0) and pending.signum == signal.SIGINT
