"""TFLM's own example models, inside the pinned tree, with real inputs for
each: what tests/test_tflm_examples.py and bench/examples.py run through
`scons run-model`.

    for example in EXAMPLES:
        path = example.model_path("third_party")
        inputs = example.inputs("third_party", "models")     # [N, ...] for input 0

- hello_world (int8 and float): 16 points of x in [0, 2 pi];
- micro_speech: the features of its four one-second test recordings, made by
  its own audio_preprocessor_int8.tflite on TFLM's host runtime, 49 windows of
  30 ms every 20 ms, as its evaluate.py makes them;
- mnist_lstm (int8): the first 30 committed MNIST test digits, scaled to [0, 1].
"""
import os
import wave
from dataclasses import dataclass

import numpy as np

EXAMPLES_DIR = os.path.join("tflite-micro", "tensorflow", "lite", "micro", "examples")
SPEECH_DIR = os.path.join(EXAMPLES_DIR, "micro_speech")
RECORDINGS = ("yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms")
SPEECH_WINDOWS, SPEECH_STRIDE, SPEECH_WINDOW = 49, 320, 480     # samples at 16 kHz
LSTM_DIGITS = 30
HELLO_WORLD_POINTS = 16


def hello_world_inputs(third_party, models_dir):
    return np.linspace(0, 2 * np.pi, HELLO_WORLD_POINTS, dtype=np.float32).reshape(-1, 1)


def speech_features(third_party, recording):
    """micro_speech's input (1960 int8 values) for one of its recordings."""
    from .pipeline.quiet import quiet_output
    speech = os.path.join(third_party, SPEECH_DIR)
    with quiet_output(show_on_error=False):
        from tflite_micro.python.tflite_micro import runtime
        preprocessor = runtime.Interpreter.from_file(
            os.path.join(speech, "models", "audio_preprocessor_int8.tflite"),
            arena_size=1 << 20)
    with wave.open(os.path.join(speech, "testdata", f"{recording}.wav")) as stream:
        audio = np.frombuffer(stream.readframes(stream.getnframes()), np.int16)
    features = []
    for start in range(0, SPEECH_WINDOWS * SPEECH_STRIDE, SPEECH_STRIDE):
        preprocessor.set_input(audio[start:start + SPEECH_WINDOW].reshape(1, -1), 0)
        preprocessor.invoke()
        features.append(np.array(preprocessor.get_output(0)).reshape(-1))
    return np.concatenate(features).astype(np.int8)


def speech_inputs(third_party, models_dir):
    return np.stack([speech_features(third_party, name) for name in RECORDINGS]) \
        .reshape(len(RECORDINGS), 1, -1)


def lstm_inputs(third_party, models_dir):
    from . import digit_set
    digits = digit_set.load(os.path.join(models_dir, digit_set.NPZ_NAME))
    return (digits.images[:LSTM_DIGITS] / 255.0).astype(np.float32)


@dataclass(frozen=True)
class Example:
    name: str                   # the model file's stem: the firmware's model name
    path: str                   # inside the examples directory
    make_inputs: object         # (third_party, models_dir) -> array for input 0
    inputs_note: str

    def model_path(self, third_party):
        return os.path.join(third_party, EXAMPLES_DIR, self.path)

    def inputs(self, third_party, models_dir):
        return self.make_inputs(third_party, models_dir)


EXAMPLES = (
    Example("hello_world_int8", os.path.join("hello_world", "models", "hello_world_int8.tflite"),
            hello_world_inputs, f"{HELLO_WORLD_POINTS} points of [0, 2 pi]"),
    Example("hello_world_float",
            os.path.join("hello_world", "models", "hello_world_float.tflite"),
            hello_world_inputs, f"{HELLO_WORLD_POINTS} points of [0, 2 pi]"),
    Example("micro_speech_quantized",
            os.path.join("micro_speech", "models", "micro_speech_quantized.tflite"),
            speech_inputs, "features of its 4 test recordings"),
    Example("trained_lstm_int8", os.path.join("mnist_lstm", "trained_lstm_int8.tflite"),
            lstm_inputs, f"{LSTM_DIGITS} MNIST test digits"),
)
