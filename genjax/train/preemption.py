"""Preemption: SIGTERM / SIGINT only set a flag; the training loop checks it between steps.

``StopSignal.install()`` replaces the SIGTERM and SIGINT handlers (main thread only) by one that
records the signal and returns, so a signal never interrupts a jitted step whose input buffers
were donated (the cause of "Array has been deleted" after a KeyboardInterrupt). The loop calls
``should_stop(step)`` between steps; when it is true the trainer saves the current step, waits
for the checkpoint to commit and exits with ``exit_code`` = 128 + signal number (143 for SIGTERM,
130 for SIGINT), the shell's convention for "terminated by signal N".

Multi-host: all processes must save the same step. There ``should_stop`` also asks
``jax.experimental.multihost_utils.reached_preemption_sync_point(step)``, which becomes true on
every process at the same step after any one of them received SIGTERM (JAX's coordination
service watches SIGTERM itself, so the SIGTERM handler is left to it; a SIGINT is forwarded to it
as a SIGTERM of this process).

References: JAX, ``jax.experimental.multihost_utils.reached_preemption_sync_point``; POSIX shell
exit status 128 + n for a process ended by signal n.
"""
from __future__ import annotations

import logging
import os
import signal
import threading

import jax

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
    """The run stopped on a signal after saving ``step`` (``exit_code`` = 128 + ``signum``)."""

    def __init__(self, signum: int, step: int | None, saved: bool):
        self.signum, self.step, self.saved = signum, step, saved
        self.exit_code = 128 + signum
        what = f"checkpoint of step {step} committed" if saved else "nothing new to save"
        where = "during start-up" if step is None else f"at step {step}"
        super().__init__(f"stopped by {signal.Signals(signum).name} {where}; {what}")


def _has_sync_manager() -> bool:
    """Whether jax.distributed started its preemption sync manager (``jax_enable_preemption_service``)."""
    try:
        from jax._src import distributed
        return distributed.global_state.preemption_sync_manager is not None
    except (ImportError, AttributeError):
        return False


class StopSignal:
    """Records SIGTERM / SIGINT; ``install`` / ``restore`` swap the process's handlers.

    ``pending``: a list that an earlier, minimal handler appends signal numbers to (the trainer
    installs one before its imports); its first entry counts as received.
    """

    def __init__(self, pending: list | None = None):
        self.signum = None
        self._pending = pending if pending is not None else []  # signals recorded before install()
        self._previous: dict = {}
        self._multihost = False

    def _handler(self, signum, frame):
        del frame
        if self.signum is None:
            self.signum = signum
            log.warning("received %s: saving at the end of the current step, then exiting",
                        signal.Signals(signum).name)
        else:
            log.warning("received %s again: already stopping (waiting for the checkpoint to commit)",
                        signal.Signals(signum).name)
        if self._multihost and signum == signal.SIGINT:
            os.kill(os.getpid(), signal.SIGTERM)  # JAX's preemption notifier tells every host

    def install(self) -> "StopSignal":
        """Install the handlers (a no-op outside the main thread, where signals cannot be caught)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        self._multihost = jax.process_count() > 1 and _has_sync_manager()
        for s in SIGNALS:
            if self._multihost and s == signal.SIGTERM:
                continue
            self._previous[s] = signal.signal(s, self._handler)
        return self

    def restore(self) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous = {}

    def received(self) -> int | None:
        """The signal this process received (or that was pending), without asking other hosts."""
        if self.signum is None and self._pending:
            self.signum = self._pending[0]
        return self.signum

    def should_stop(self, step: int) -> bool:
        """True once a signal arrived (multi-host: on every process at the same ``step``)."""
        self.received()
        if self._multihost:
            from jax.experimental import multihost_utils

            try:
                reached = multihost_utils.reached_preemption_sync_point(step)
            except RuntimeError:  # no preemption sync manager (the runtime was started without one)
                reached = False
            if reached:
                self.signum = self.signum or signal.SIGTERM
            return reached
        return self.signum is not None
