"""Which operators TFLM can run, and the MicroMutableOpResolver method that
registers each: the table the generated op resolver is written from.

For the pinned TFLM commit 88f8587b (third_party/manifest.toml), read from its
tensorflow/lite/micro/micro_mutable_op_resolver.h. It is a table here, not a
scan of that header, so that code generation and its tests need no
third_party/ tree; tests/test_model_codegen.py compares it with the header
whenever third_party/ is populated, so a new pin that adds or renames an
operator fails a test instead of going unnoticed.

Left out on purpose: the signal-processing custom ops (Signal*: their kernels
live in TFLM's signal/ tree, which the firmware does not build) and ETHOSU
(there is no Ethos-U NPU on an i.MX RT1062).
"""
from ..errors import UserError

TFLM_COMMIT = "88f8587b3fa6e4e027caf5437b1510a86bf31a60"

# Builtin operator (tflite::BuiltinOperator name) -> resolver method.
BUILTIN_OPS = {
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "ADD_N": "AddAddN",
    "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo",
    "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast",
    "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "COS": "AddCos",
    "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice",
    "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "ELU": "AddElu",
    "EQUAL": "AddEqual",
    "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims",
    "FILL": "AddFill",
    "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish",
    "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog",
    "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax",
    "MAXIMUM": "AddMaximum",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MIRROR_PAD": "AddMirrorPad",
    "MEAN": "AddMean",
    "MINIMUM": "AddMinimum",
    "MUL": "AddMul",
    "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable",
    "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax",
    "REDUCE_MIN": "AddReduceMin",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "REVERSE_V2": "AddReverseV2",
    "ROUND": "AddRound",
    "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape",
    "SIN": "AddSin",
    "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit",
    "SPLIT_V": "AddSplitV",
    "SQUEEZE": "AddSqueeze",
    "SQRT": "AddSqrt",
    "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference",
    "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "SVDF": "AddSvdf",
    "TANH": "AddTanh",
    "TRANSPOSE_CONV": "AddTransposeConv",
    "TRANSPOSE": "AddTranspose",
    "UNPACK": "AddUnpack",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile",
    "ZEROS_LIKE": "AddZerosLike",
}

# Custom operator (the model's custom_code) -> resolver method; TFLM's own
# kernels registered by name.
CUSTOM_OPS = {
    "CIRCULAR_BUFFER": "AddCircularBuffer",
    "TFLM_DECODE": "AddDecode",
    "TFLite_Detection_PostProcess": "AddDetectionPostprocess",
}


def resolver_methods(builtin_ops, custom_ops=()):
    """{operator: AddXxx method} for a model's builtin and custom operators,
    or a UserError naming every operator TFLM cannot register."""
    methods, missing = {}, []
    for op in builtin_ops:
        if op in BUILTIN_OPS:
            methods[op] = BUILTIN_OPS[op]
        else:
            missing.append(f"{op} (builtin)")
    for op in custom_ops:
        if op in CUSTOM_OPS:
            methods[op] = CUSTOM_OPS[op]
        else:
            missing.append(f"{op} (custom)")
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise UserError(
            f"The model uses operator{plural} {', '.join(missing)} that TensorFlow Lite "
            f"Micro (commit {TFLM_COMMIT[:8]}) cannot run: it has no kernel registered "
            f"by that name. Convert the model with operators TFLM supports (for Keras, "
            f"avoid layers that lower to these ops; custom ops need a TFLM kernel of "
            f"your own). TFLM's builtin operators: {', '.join(sorted(BUILTIN_OPS))}; "
            f"its custom ones: {', '.join(sorted(CUSTOM_OPS))}.")
    return methods


# --- type-specialised kernels ----------------------------------------------------------
# TFLM declares, for some operators, registrations that carry only one type
# path (tensorflow/lite/micro/kernels/{conv,depthwise_conv,fully_connected,
# pooling,softmax}.h). With CMSIS-NN they are separate kernels, so an image that
# registers them links only that path; with the reference kernels the headers
# define them as the generic registration. Keyed by the types that select them:
# the activation and weight inputs for convolutions and fully connected layers,
# the input for pooling, the input and output for softmax.
SPECIALISED = {
    "CONV_2D": ("weights", {("INT8", "INT8"): "Register_CONV_2D_INT8",
                            ("INT16", "INT8"): "Register_CONV_2D_INT16",
                            ("INT8", "INT4"): "Register_CONV_2D_INT4"}),
    "DEPTHWISE_CONV_2D": ("weights", {("INT8", "INT8"): "Register_DEPTHWISE_CONV_2D_INT8",
                                      ("INT16", "INT8"): "Register_DEPTHWISE_CONV_2D_INT16",
                                      ("INT8", "INT4"): "Register_DEPTHWISE_CONV_2D_INT4"}),
    "FULLY_CONNECTED": ("weights", {("INT8", "INT8"): "Register_FULLY_CONNECTED_INT8",
                                    ("INT16", "INT8"): "Register_FULLY_CONNECTED_INT16",
                                    ("INT8", "INT4"): "Register_FULLY_CONNECTED_INT4"}),
    "MAX_POOL_2D": ("input", {("INT8",): "Register_MAX_POOL_2D_INT8",
                              ("INT16",): "Register_MAX_POOL_2D_INT16"}),
    "AVERAGE_POOL_2D": ("input", {("INT8",): "Register_AVERAGE_POOL_2D_INT8",
                                  ("INT16",): "Register_AVERAGE_POOL_2D_INT16"}),
    "SOFTMAX": ("output", {("INT8", "INT8"): "Register_SOFTMAX_INT8",
                           ("INT8", "INT16"): "Register_SOFTMAX_INT8_INT16",
                           ("INT16", "INT16"): "Register_SOFTMAX_INT16"}),
}


def _selecting_types(key, inputs, outputs):
    if key == "weights":
        return tuple(inputs[:2])
    if key == "input":
        return tuple(inputs[:1])
    return tuple(inputs[:1]) + tuple(outputs[:1])


def registration(operator, signatures):
    """(registration function or None, why) for `operator` used with
    `signatures` [(input types, output types)]: the type-specialised kernel
    when TFLM has one and every use of the operator selects the same one."""
    if operator not in SPECIALISED:
        return None, "TFLM has no type-specialised kernel for it"
    key, table = SPECIALISED[operator]
    chosen = {_selecting_types(key, inputs, outputs) for inputs, outputs in signatures}
    described = "; ".join("/".join(t.lower() for t in types) for types in sorted(chosen))
    if len(chosen) != 1:
        return None, f"its uses differ in type ({described}): the generic kernel runs them all"
    types = chosen.pop()
    if types not in table:
        return None, f"no specialised kernel for {described}"
    return table[types], f"every use is {described}"

