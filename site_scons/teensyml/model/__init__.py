"""The model a firmware runs: from a .tflite file to the C++ the firmware
compiles, and the inputs and expected outputs that check it.

    tflite_model       a .tflite file read into a ModelInfo, without TensorFlow
    tflm_ops           the operators TFLM runs and the resolver method of each
    codegen            model_data.cc/.h and op_resolver.cc/.h for a firmware
    firmware_model     MODEL= resolved: path, operators, arena, test digits
    model_input        an 8-bit MNIST image made into the input tensor
    digit_set          the committed test digits and the host runtime's outputs
    known_differences  bounded differences from the host runtime, per kernel set
    tflm_examples      TFLM's own example models with real inputs
    pipeline/          MNIST, training, export, evaluation (`scons model`)

Importing this package loads nothing heavy: numpy, flatbuffers and
TensorFlow are imported by the modules that need them, when they do.
"""
