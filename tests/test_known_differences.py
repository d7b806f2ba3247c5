"""teensyml.model.known_differences: which known differences apply to a model and
kernel set (no third_party, no TensorFlow needed)."""
import subprocess
import sys

import pytest

from conftest import ROOT
from teensyml.model import known_differences as known

LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
CNN = ("CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX")


def test_a_model_without_an_lstm_has_no_known_difference():
    assert known.explain(CNN, "cmsis_nn") == ()
    assert known.explain(CNN, "reference") == ()
    assert known.explain((), "cmsis_nn") == ()


@pytest.mark.parametrize("kernels", ["cmsis_nn", "reference"])
def test_the_lstm_has_one_record_per_kernel_set(kernels):
    found = known.explain([LSTM, "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"], kernels)
    assert len(found) == 1
    record = found[0]
    assert record.operator == LSTM and record.kernels == (kernels,)
    assert record.docs == "docs/model.md#the-lstm-under-cmsis-nn"
    assert "\n" not in record.cause and record.when and record.remedy


def test_kernel_set_spellings():
    for spelling in ("cmsis_nn", "CMSIS-NN", "cmsis-nn", "1", 1, True):
        assert known.kernel_set(spelling) == "cmsis_nn"
    for spelling in ("reference", "Reference", "0", 0, False):
        assert known.kernel_set(spelling) == "reference"
    with pytest.raises(ValueError, match="unknown kernel set"):
        known.explain([LSTM], "xnnpack")


def test_operator_names_duplicates_and_a_single_string():
    assert known.explain([LSTM, LSTM], "cmsis_nn") == known.explain(LSTM, "cmsis_nn")
    assert known.explain([" unidirectional_sequence_lstm "], "cmsis_nn") == \
        known.explain([LSTM], "cmsis_nn")
    assert known.explain(iter([LSTM]), "reference")     # any iterable


def test_bounds_are_the_measured_figures():
    record = known.explain([LSTM], "cmsis_nn")[0]
    by_images = {bound.images: bound for bound in record.bound}
    assert set(by_images) == {30, 100}
    for bound in record.bound:
        assert 0 < bound.differing <= bound.images
        assert 0 < bound.max_difference <= 255               # int8 outputs
        assert 0 <= bound.predictions_changed <= bound.differing
    assert by_images[30].differing <= by_images[100].differing


def test_summary_names_cause_condition_remedy_figures_and_docs():
    text = known.explain([LSTM], "cmsis_nn")[0].summary()
    assert text.startswith(f"known difference, {LSTM} (cmsis_nn kernels): ")
    for expected in ("differs when:", "remedy:", "interpreter.reset()", "30 test digits",
                     "100 test digits", "docs/model.md#the-lstm-under-cmsis-nn"):
        assert expected in text


def test_the_docs_anchor_exists():
    path, anchor = known.DOCS.split("#")
    headings = [line.lstrip("#").strip() for line in (ROOT / path).read_text().splitlines()
                if line.startswith("#")]
    slugs = {"-".join(heading.lower().replace("-", " ").split()) for heading in headings}
    assert anchor in slugs


def test_importing_it_pulls_in_no_heavy_module():
    code = ("import sys; sys.path.insert(0, 'site_scons'); "
            "import teensyml.model.known_differences; "
            "print(sorted(m for m in ('SCons', 'numpy', 'tensorflow', 'tflite_micro') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
