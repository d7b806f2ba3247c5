"""TFLM's own example models (inside the pinned tree) on the emulated board,
with both kernel sets: each builds, boots READY and, through `scons
run-model COMPARE=1`, agrees with TFLM's host runtime on real inputs
(teensyml.model.tflm_examples says which), the LSTM under CMSIS-NN included
(docs/model.md, "The LSTM under CMSIS-NN")."""
import re

import numpy as np
import pytest

from conftest import ROOT, THIRD_PARTY, requires_third_party, run_scons
from teensyml.model import tflm_examples

pytestmark = [pytest.mark.firmware, requires_third_party]


@pytest.mark.parametrize("kernels", ["reference", "cmsis_nn"])
@pytest.mark.parametrize("example", tflm_examples.EXAMPLES, ids=lambda example: example.name)
def test_example_agrees_with_the_host_runtime(example, kernels, tmp_path):
    model = example.model_path(str(THIRD_PARTY))
    inputs = example.inputs(str(THIRD_PARTY), str(ROOT / "models"))
    np.save(tmp_path / "inputs.npy", inputs)
    result = run_scons("run-model", f"MODEL={model}",
                       f"USE_CMSIS_NN={int(kernels == 'cmsis_nn')}",
                       f"INPUT={tmp_path / 'inputs.npy'}", f"OUTPUT={tmp_path / 'out.npz'}",
                       "COMPARE=1", check=False)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert len(re.findall(r"^sample \d+: [\d,]+ cycles$", result.stdout, re.M)) == len(inputs)
    assert np.load(tmp_path / "out.npz")["output_0"].shape[0] == len(inputs)
    assert result.returncode == 0, output
    assert "the firmware agrees with TFLM's host runtime" in result.stdout, output
    assert re.search(rf"^output 0 \(\w+\): {len(inputs)}/{len(inputs)} samples equal",
                     result.stdout, re.M), output
