"""Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the long-running commands
(emulate, monitor, flash) cleanly, within a tick of their loops, with the
conventional status 128 + the signal number (130, 143, 129).

Why through the signal wakeup descriptor: SCons runs actions on worker
threads, where Python cannot install signal handlers, and for the build it
installs its own in the main thread (they stop scheduling new tasks but
cannot end a running action). What every thread can see is the wakeup
descriptor (signal.set_wakeup_fd): the interpreter writes the number of each
signal that reaches a Python handler there, whichever handler that is.
listen() points it at a pipe a watcher thread reads. It runs in the main
thread: `scons` calls it while reading the SConscripts (listen_in_scons),
the command-line tools around their work (listening). The commands look at
received() at their usual 0.1 s ticks and stop where their state is whole
(no exception inside a Unicorn callback, no file cut short, the flasher child
ended).

    with interrupts.listening():             # tools/: main thread
        ...
        if interrupts.received():            # any thread
            raise interrupts.Interrupted(interrupts.received(), "while waiting")
"""
import contextlib
import os
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_STOP_WATCHER = 0              # a byte no signal has: ends the watcher thread

_lock = threading.Lock()
_arrived = threading.Event()
_state = {"signal": None, "listener": None, "callbacks": [], "exit_status": None}


class Interrupted(Exception):
    """A command stopped by a signal. `doing` ends the sentence: "while
    waiting for the bootloader; nothing was written"."""

    def __init__(self, signum, doing=""):
        self.signum = signum
        self.status = exit_status(signum)
        super().__init__(f"Stopped by {signal.Signals(signum).name}"
                         + (f" {doing}" if doing else "") + ".")


def exit_status(signum):
    """The shell's convention for a command ended by signal `signum`."""
    return 128 + signum


def received():
    """The first stopping signal that arrived since listening began, or None."""
    return _state["signal"]


def wait(seconds):
    """Sleep up to `seconds`, less when a signal arrives; returns received()."""
    _arrived.wait(seconds)
    return received()


def check(doing=""):
    """Raise Interrupted when a stopping signal arrived."""
    if received() is not None:
        raise Interrupted(received(), doing)


@contextlib.contextmanager
def when_received(callback):
    """Within the block, `callback(signum)` runs (in the watcher thread) when a
    stopping signal arrives, or at once if one already has: for loops that
    wait on their own threading.Event."""
    with _lock:
        _state["callbacks"].append(callback)
        signum = received()
    if signum is not None:
        callback(signum)
    try:
        yield
    finally:
        with _lock:
            _state["callbacks"].remove(callback)


def _note(signum):
    with _lock:
        if _state["signal"] is not None:
            return
        _state["signal"] = signum
        callbacks = list(_state["callbacks"])
    _arrived.set()
    for callback in callbacks:
        callback(signum)


class _Listener:
    """The wakeup pipe, its watcher thread, and what to restore afterwards."""

    def __init__(self, own_handlers):
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.write_end, False)      # set_wakeup_fd requires it
        self.previous_fd = signal.set_wakeup_fd(self.write_end, warn_on_full_buffer=False)
        # No-op handlers: the signal only reaches the wakeup descriptor, so
        # no KeyboardInterrupt lands in the middle of a write or a callback.
        self.previous_handlers = {signum: signal.signal(signum, lambda *_: None)
                                  for signum in SIGNALS} if own_handlers else {}
        self.thread = threading.Thread(target=self._watch, name="signal watcher",
                                       daemon=True)
        self.thread.start()

    def _watch(self):
        while True:
            data = os.read(self.read_end, 64)
            for signum in data:
                if signum == _STOP_WATCHER:
                    return
                if signum in SIGNALS:
                    _note(signum)

    def close(self):
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self.previous_fd)
        os.write(self.write_end, bytes([_STOP_WATCHER]))
        self.thread.join()
        os.close(self.read_end)
        os.close(self.write_end)


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


def _reset():
    _state["signal"] = None
    _arrived.clear()


def listen(own_handlers):
    """Start listening (main thread only); False when already listening.
    `own_handlers`: install ours for SIGINT, SIGTERM and SIGHUP (a tool);
    without, the signals must have Python handlers of someone else's (SCons'),
    or they never reach the wakeup descriptor."""
    if _state["listener"] is not None:
        return False
    _reset()
    _state["listener"] = _Listener(own_handlers)
    return True


def stop_listening():
    """Stop listening and forget the signal (in-process callers, tests)."""
    listener, _state["listener"] = _state["listener"], None
    if listener is not None:
        listener.close()
    _reset()


@contextlib.contextmanager
def listening():
    """A command-line tool's work, stoppable by the signals. Outside the main
    thread (an SCons action) or when already listening, it only runs the block:
    listen_in_scons() has set up the listening then."""
    started = _in_main_thread() and listen(own_handlers=True)
    try:
        yield
    finally:
        if started:
            stop_listening()


def listen_in_scons():
    """For `scons`, called while it reads the SConscripts (the main thread).
    SCons ends an interrupted build with status 2 whatever its actions
    returned: at exit, the conventional status replaces it (an action's own,
    kept with keep_exit_status(), or 128 + the signal that stopped the build)."""
    if _in_main_thread() and listen(own_handlers=False):
        import SCons.exitfuncs
        # Registered now, so it runs after the exit functions the build adds.
        SCons.exitfuncs.register(_exit_with_kept_status)


def keep_exit_status(status):
    """Make `status` the process's exit status (see listen_in_scons)."""
    _state["exit_status"] = status


def _exit_with_kept_status():
    status = _state["exit_status"]
    if status is None and received() is not None:
        status = exit_status(received())
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
