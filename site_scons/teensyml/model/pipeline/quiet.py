"""Silence the converter's and the runtimes' chatter (Python prints and C++
logs alike), but keep it for the error message when the work fails."""
import contextlib
import os
import sys
import tempfile
import warnings


@contextlib.contextmanager
def quiet_output(show_on_error=True):
    """Route file descriptors 1 and 2 to a temporary file for the block. On an
    exception the captured text goes to stderr (unless show_on_error is
    False: failure expected) before the exception goes on."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        except BaseException:
            _restore(saved)
            if show_on_error:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        else:
            _restore(saved)


def _restore(saved):
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    for fd in saved:
        os.close(fd)
    saved.clear()
