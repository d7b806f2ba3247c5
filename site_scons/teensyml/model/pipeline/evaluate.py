"""Run a .tflite model over test images with TFLite and with TFLM's host
runtime, and find the smallest tensor arena TFLM needs.

- TFLite: tf.lite.Interpreter with the builtin *reference* kernels
  (OpResolverType.BUILTIN_REF), of which TFLM's kernels are ports. With
  TensorFlow 2.19 both requantize with double rounding and agree bit for bit
  (from 2.20 on TFLite rounds once; docs/model.md); where outputs differ,
  first_divergence() names the operator. TFLite's default (optimized) kernels
  are run too, to record how far they differ.
- TFLM: the `tflite-micro` wheel, built from the same commit as the firmware's
  TFLM. Its kernels are compiled without optimization (about 0.03 s per image
  here, 40 times TFLite's reference kernels), so the images are spread over one
  worker process per core, each holding its own interpreter.

Inputs are made from the uint8 pixels by teensyml.model.model_input, exactly as the
firmware makes them. TensorFlow is imported where it is used, so the worker
processes load only what TFLM's runtime needs.
"""
import concurrent.futures
import multiprocessing
import os

import numpy as np
from tqdm import tqdm

from ...errors import UserError
from ..model_input import model_input
from .quiet import quiet_output

# Arena for the evaluation runs: ample for any model TFLM fits on a Teensy.
EVALUATION_ARENA = 1 << 20
CHUNK_IMAGES = 100
ARENA_ALIGNMENT = 16


def input_values(images, tensor):
    """Model input tensors (N, *shape[1:]) for uint8 images and a TensorInfo."""
    values = model_input(images, np.dtype(tensor.dtype), tensor.scale or 0.0,
                         tensor.zero_point or 0)
    return values.reshape((len(images),) + tuple(tensor.shape[1:]))


# --- TFLite --------------------------------------------------------------------------

def tflite_outputs(model_bytes, inputs, reference_kernels=True, label="TFLite",
                   progress=True):
    """Output tensors (N, *output shape[1:]) of TFLite for each input."""
    import tensorflow as tf
    resolver = (tf.lite.experimental.OpResolverType.BUILTIN_REF if reference_kernels
                else tf.lite.experimental.OpResolverType.AUTO)
    with quiet_output():    # the deprecation notice, the XNNPACK line
        interpreter = tf.lite.Interpreter(model_content=model_bytes,
                                          experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    outputs = []
    for value in tqdm(inputs, desc=label, unit="image", leave=False, disable=not progress):
        interpreter.set_tensor(input_index, value[np.newaxis])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(outputs)


# --- TFLM's host runtime --------------------------------------------------------------

def tflm_outputs(model_bytes, inputs, label="TFLM", workers=None, progress=True):
    """Output tensors of TFLM's host runtime for each input, computed in
    `workers` processes (default: one per core)."""
    workers = max(1, min(workers or os.cpu_count() or 1,
                         (len(inputs) + CHUNK_IMAGES - 1) // CHUNK_IMAGES))
    chunks = [inputs[start:start + CHUNK_IMAGES]
              for start in range(0, len(inputs), CHUNK_IMAGES)]
    # spawn, not fork: the parent holds TensorFlow's threads.
    context = multiprocessing.get_context("spawn")
    results = [None] * len(chunks)
    with tqdm(total=len(inputs), desc=label, unit="image", leave=False,
              disable=not progress) as bar, \
            concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context, initializer=_worker_start,
                initargs=(model_bytes,)) as pool:
        futures = {pool.submit(_worker_run, chunk): i for i, chunk in enumerate(chunks)}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(len(chunks[futures[future]]))
    return np.concatenate(results)


_worker_interpreter = None


def _worker_start(model_bytes):
    global _worker_interpreter
    _worker_interpreter = tflm_interpreter(model_bytes, EVALUATION_ARENA)


def _worker_run(inputs):
    return run_tflm(_worker_interpreter, inputs)


def tflm_interpreter(model_bytes, arena_size):
    """A TFLM host interpreter, or None if AllocateTensors fails (arena too
    small). Its console chatter is swallowed."""
    try:
        with quiet_output(show_on_error=False):
            from tflite_micro.python.tflite_micro import runtime
            return runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
    except RuntimeError:
        return None


def run_tflm(interpreter, inputs):
    outputs = []
    for value in inputs:
        interpreter.set_input(value[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0))[0])
    return np.stack(outputs)


def smallest_arena(model_bytes, probe_input, expected_output, upper=EVALUATION_ARENA):
    """The smallest arena (bytes, a multiple of ARENA_ALIGNMENT) in which the
    TFLM host runtime allocates the model and reproduces `expected_output`
    for `probe_input`: a binary search over sizes, as allocation either fits
    or fails."""
    def works(size):
        interpreter = tflm_interpreter(model_bytes, size)
        return interpreter is not None and np.array_equal(
            run_tflm(interpreter, probe_input[np.newaxis])[0], expected_output)

    if not works(upper):
        raise UserError(f"TFLM's host runtime cannot run the model even with a "
                        f"{upper}-byte arena.")
    low, high = 0, upper // ARENA_ALIGNMENT        # in units; low fails, high works
    while high - low > 1:
        middle = (low + high) // 2
        if works(middle * ARENA_ALIGNMENT):
            high = middle
        else:
            low = middle
    return high * ARENA_ALIGNMENT


# --- where TFLM and TFLite part ways ---------------------------------------------------

def first_divergence(model_bytes, value):
    """For one input on which TFLM and TFLite's reference kernels disagree:
    (operator index, operator name) of the first operator, in execution
    order, whose output differs, or None if every output agrees. Both
    runtimes keep every intermediate tensor for this."""
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime
    with quiet_output():
        reference = tf.lite.Interpreter(
            model_content=model_bytes, experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
        reference.allocate_tensors()
        micro = runtime.Interpreter.from_bytes(
            model_bytes, arena_size=EVALUATION_ARENA,
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    reference.set_tensor(reference.get_input_details()[0]["index"], value[np.newaxis])
    reference.invoke()
    micro.set_input(value[np.newaxis], 0)
    micro.invoke()
    for op in reference._get_ops_details():      # in execution order
        for tensor in op["outputs"]:
            expected = reference.get_tensor(int(tensor)).reshape(-1)
            found = np.asarray(micro.GetTensor(int(tensor), 0)["tensor_data"]).reshape(-1)
            if not np.array_equal(expected, found):
                return int(op["index"]), op["op_name"]
    return None


def divergences(model_bytes, inputs, tflm, reference, limit=50):
    """{operator name: images whose first difference is there} over (up to
    `limit` of) the images where `tflm` and `reference` outputs differ."""
    counts = {}
    for image in np.flatnonzero(np.any(tflm != reference, axis=1))[:limit]:
        found = first_divergence(model_bytes, inputs[image])
        name = f"#{found[0]} {found[1]}" if found else "none (outputs differ only)"
        counts[name] = counts.get(name, 0) + 1
    return counts


# --- comparing ------------------------------------------------------------------------------

def accuracy(outputs, labels):
    return float(np.mean(outputs.argmax(axis=1) == labels))


def agreement(outputs, reference):
    """How outputs differ from reference outputs, image by image."""
    differs = np.any(outputs != reference, axis=1)
    difference = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    return {"images": int(len(outputs)), "mismatched_images": int(differs.sum()),
            "max_abs_diff": float(difference.max()) if difference.size else 0.0,
            "bit_exact": not bool(differs.any())}
