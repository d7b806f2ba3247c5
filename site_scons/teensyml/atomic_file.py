"""Write a file so that it is either complete or absent: into a temporary file
beside it, renamed over the target only when the writing succeeded. A place
that cannot be written (a read-only build/, a full disk) is a UserError: one
paragraph, whether SCons is reading the build or running an action."""
import contextlib
import os
import tempfile

from .errors import UserError


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_args):
    """`with atomic_write("x.json", "w") as stream: ...` creates x.json (and its
    directory) only if the block finishes without an exception."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                                             suffix=".tmp", dir=directory)
    except OSError as error:
        raise cannot_write(path, error) from None
    try:
        with os.fdopen(handle, mode, **open_args) as stream:
            yield stream
        try:
            os.chmod(temporary, 0o666 & ~_umask())   # mkstemp made it 0600
            os.replace(temporary, path)
        except OSError as error:
            raise cannot_write(path, error) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def cannot_write(path, error):
    """The UserError for an OSError writing `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    return UserError(f"Cannot write {path}: {error.strerror or error}. Make {directory} "
                     f"writable (or free space on its disk), or remove what is in the "
                     f"way, then run again.")


def write_bytes(path, data):
    with atomic_write(path, "wb") as stream:
        stream.write(data)


def write_text(path, text):
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)


def update_text(path, text):
    """write_text, unless the file already holds exactly `text`: a generated
    source that did not change keeps its timestamp, so neither SCons nor
    ninja recompiles what includes it."""
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            if stream.read() == text:
                return
    except (OSError, UnicodeDecodeError):
        pass
    write_text(path, text)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
