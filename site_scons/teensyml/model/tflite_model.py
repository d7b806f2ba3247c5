"""Read a .tflite file into a ModelInfo, without TensorFlow.

    info = read_model("models/mnist_int8.tflite")
    info.operators            ('CONV_2D', 'MAX_POOL_2D', ..., 'SOFTMAX')  execution order
    info.distinct_operators   ('CONV_2D', 'FULLY_CONNECTED', ...)          sorted
    info.inputs[0]            TensorInfo(name, dtype='int8', shape=(1, 28, 28, 1), ...)
    info.operations[0]        Operation('CONV_2D', inputs=(TensorInfo, ...), outputs=(...))

This runs inside every `scons` (the build needs the operator list to pick
kernels), so it must be quick and must not import TensorFlow. The flatbuffer
accessors are the ones TFLM itself generates from its schema,
tensorflow/lite/python/schema_py_generated.py of the `tflite-micro` wheel that
requirements.txt pins to the same commit as the firmware's TFLM: the schema
can't drift from the runtime, and no extra package is needed. That module only
imports `flatbuffers`; it is loaded from its file, because importing it as
part of the `tflite_micro` package would run that package's __init__, which
imports TensorFlow (5 s). (The PyPI `tflite` package would be the
alternative: another dependency, with a schema that lags TFLM's.)
"""
import hashlib
import importlib.util
import os
import struct
from dataclasses import dataclass

from ..errors import UserError

FILE_IDENTIFIER = b"TFL3"
_SCHEMA_FILE = ("tensorflow", "lite", "python", "schema_py_generated.py")
# Tensor types whose constant data marks a weight as quantized.
_INTEGER_WEIGHT_TYPES = {"INT8", "UINT8", "INT4", "INT16"}
_schema = None


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str                 # numpy-style name: "int8", "float32", ...
    shape: tuple
    scales: tuple = ()         # one per tensor, or one per channel; () if not quantized
    zero_points: tuple = ()

    @property
    def scale(self):
        """The per-tensor scale, or None (not quantized, or per channel)."""
        return self.scales[0] if len(self.scales) == 1 else None

    @property
    def zero_point(self):
        return self.zero_points[0] if len(self.zero_points) == 1 else None

    def as_dict(self):
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "quantization": ({"scale": self.scale, "zero_point": self.zero_point}
                                 if self.scale is not None else None)}


@dataclass(frozen=True)
class Operation:
    """One operator of the model with its tensors (None for an optional input
    left out): what a kernel's run-time choice of code path depends on."""
    name: str
    inputs: tuple
    outputs: tuple


@dataclass(frozen=True)
class ModelInfo:
    path: str
    size: int                  # bytes
    sha256: str
    schema_version: int
    operators: tuple           # subgraph 0's operators in execution order
    distinct_operators: tuple  # every operator of every subgraph, once, sorted
    custom_operators: tuple    # those of distinct_operators that are custom ops
    inputs: tuple              # TensorInfo of subgraph 0's inputs
    outputs: tuple
    subgraphs: int
    # (operator, its inputs' types, its outputs' types) of every operator of
    # every subgraph, once each, sorted; types as TFLite names ("INT8", ...),
    # "" for an optional input left out.
    signatures: tuple = ()
    # Operation of every operator of every subgraph, in order.
    operations: tuple = ()

    def operations_of(self, operator):
        return tuple(operation for operation in self.operations if operation.name == operator)

    def signatures_of(self, operator):
        """The distinct (input types, output types) `operator` is used with."""
        return tuple((inputs, outputs) for op, inputs, outputs in self.signatures
                     if op == operator)

    @property
    def builtin_operators(self):
        return tuple(op for op in self.distinct_operators if op not in self.custom_operators)


def read_model(path):
    """The ModelInfo of the .tflite file at `path`; a UserError if it is
    missing, not a TFLite model, or truncated."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise UserError(f"Cannot read the model {path}: {error.strerror}.") from None
    return parse_model(data, path)


def parse_model(data, path="<model>"):
    """ModelInfo of .tflite bytes (`path` only names them in messages)."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise UserError(f"{path} is not a TensorFlow Lite model: a .tflite file starts "
                        f"with a flatbuffer whose identifier is {FILE_IDENTIFIER.decode()} "
                        f"(bytes 4-7), and this one has {data[4:8]!r}. Give the path of a "
                        f"model exported by the TFLite converter.")
    schema = load_schema()
    try:
        return _model_info(schema, data, path)
    except (IndexError, struct.error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is truncated or damaged: reading its flatbuffer failed "
                        f"({type(error).__name__}: {error}). Export the model again or "
                        f"copy it anew; {len(data)} bytes were read.") from None


def check_integer_quantization(info, data):
    """Refuse a hybrid ("dynamic range") model: float activations with integer
    weights, computed by float kernels that dequantize on the fly. TFLM has no
    such kernels; it runs float32 or fully integer models."""
    schema = load_schema()
    model = schema.Model.GetRootAs(data, 0)
    type_names = _enum_names(schema.TensorType)
    codes = _operator_names(schema, model)
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for index in range(graph.OperatorsLength()):
            op = graph.Operators(index)
            float_activation, integer_weight = None, None
            for t in op.InputsAsNumpy() if op.InputsLength() else ():
                if t < 0:
                    continue
                tensor = graph.Tensors(int(t))
                kind = type_names.get(tensor.Type(), "?")
                constant = _has_data(model.Buffers(tensor.Buffer()))
                if kind == "FLOAT32" and not constant:
                    float_activation = tensor
                elif kind in _INTEGER_WEIGHT_TYPES and constant:
                    integer_weight = tensor
            if float_activation is not None and integer_weight is not None:
                raise UserError(
                    f"{info.path} is a hybrid (dynamic-range quantized) model: operator "
                    f"#{index} {codes[op.OpcodeIndex()]} takes float32 activations "
                    f"({_name(float_activation)}) with "
                    f"{type_names[integer_weight.Type()].lower()} weights "
                    f"({_name(integer_weight)}). TensorFlow Lite Micro rejects such "
                    f"models. Export it as float32, or fully quantized: give the "
                    f"converter a representative_dataset and set "
                    f"target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8].")


def load_schema():
    """TFLM's generated flatbuffer accessors (see the module docstring)."""
    global _schema
    if _schema is None:
        spec = importlib.util.find_spec("tflite_micro")   # finds, does not import
        path = (os.path.join(spec.submodule_search_locations[0], *_SCHEMA_FILE)
                if spec and spec.submodule_search_locations else None)
        if not path or not os.path.isfile(path):
            raise UserError("Reading .tflite models needs the flatbuffer schema of the "
                            "`tflite-micro` package, which is not installed: run "
                            "`pip install -r requirements.txt`.")
        module_spec = importlib.util.spec_from_file_location("teensyml._tflite_schema", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        _schema = module
    return _schema


# --- reading the flatbuffer --------------------------------------------------------

def _model_info(schema, data, path):
    model = schema.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() < 1:
        raise UserError(f"{path} holds no subgraph: it is not a model TFLM can run.")
    for index in range(model.BuffersLength()):
        _check_buffer(model.Buffers(index), len(data))
    codes = _operator_names(schema, model)
    custom = {_custom_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())
              if _is_custom(schema, model.OperatorCodes(i))}
    graphs = [model.Subgraphs(s) for s in range(model.SubgraphsLength())]
    used = [[codes[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength())]
            for graph in graphs]
    type_names = _enum_names(schema.TensorType)
    main = graphs[0]
    tensors = lambda indices: tuple(_tensor_info(main.Tensors(int(i)), type_names)  # noqa: E731
                                    for i in indices)
    distinct = sorted({op for ops in used for op in ops})
    operations = tuple(operation for graph in graphs
                       for operation in _operations(graph, codes, type_names))
    signatures = sorted({_signature(operation) for operation in operations})
    return ModelInfo(
        path=os.fspath(path), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
        schema_version=model.Version(), operators=tuple(used[0]),
        distinct_operators=tuple(distinct),
        custom_operators=tuple(op for op in distinct if op in custom),
        inputs=tensors(main.InputsAsNumpy() if main.InputsLength() else ()),
        outputs=tensors(main.OutputsAsNumpy() if main.OutputsLength() else ()),
        subgraphs=len(graphs), signatures=tuple(signatures), operations=operations)


def _operations(graph, codes, type_names):
    def tensors(indices):
        return tuple(_tensor_info(graph.Tensors(int(i)), type_names) if i >= 0 else None
                     for i in indices)
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        yield Operation(codes[operator.OpcodeIndex()],
                        tensors(operator.InputsAsNumpy() if operator.InputsLength() else ()),
                        tensors(operator.OutputsAsNumpy() if operator.OutputsLength() else ()))


def _signature(operation):
    """(operator, input types, output types) as TFLite names, "" for an
    optional input left out."""
    def types(tensors):
        return tuple(tensor.dtype.upper() if tensor is not None else "" for tensor in tensors)
    return operation.name, types(operation.inputs), types(operation.outputs)


def _operator_names(schema, model):
    """The operator name of each operator code: the builtin's enum name, or
    the custom code for a custom op."""
    builtin_names = _enum_names(schema.BuiltinOperator)
    names = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        if _is_custom(schema, code):
            names.append(_custom_name(code))
        else:
            number = _builtin_code(code)
            names.append(builtin_names.get(number, f"BUILTIN_{number}"))
    return names


def _builtin_code(code):
    # Codes above 127 live in builtin_code; older files only fill the
    # deprecated int8 field (TFLM's GetBuiltinCode does the same max()).
    return max(code.BuiltinCode(), code.DeprecatedBuiltinCode())


def _is_custom(schema, code):
    return _builtin_code(code) == schema.BuiltinOperator.CUSTOM


def _custom_name(code):
    name = code.CustomCode()
    return name.decode() if name else "<unnamed custom op>"


def _tensor_info(tensor, type_names):
    quantization = tensor.Quantization()
    scales, zero_points = (), ()
    if quantization is not None and quantization.ScaleLength():
        scales = tuple(float(s) for s in quantization.ScaleAsNumpy())
        zero_points = tuple(int(z) for z in quantization.ZeroPointAsNumpy()) \
            if quantization.ZeroPointLength() else (0,) * len(scales)
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    return TensorInfo(name=_name(tensor), dtype=type_names.get(tensor.Type(), "?").lower(),
                      shape=shape, scales=scales, zero_points=zero_points)


def _check_buffer(buffer, file_size):
    """A buffer's bytes must lie inside the file: a truncated file ends early."""
    if buffer.DataLength():
        buffer.DataAsNumpy()        # numpy refuses a view past the end (ValueError)
    if buffer.Offset() > 1 and buffer.Offset() + buffer.Size() > file_size:
        raise ValueError(f"a buffer ends at byte {buffer.Offset() + buffer.Size()}")


def _has_data(buffer):
    return buffer is not None and (buffer.DataLength() > 0 or buffer.Offset() > 1)


def _name(tensor):
    name = tensor.Name()
    return name.decode() if name else "<unnamed>"


def _enum_names(enum_class):
    return {value: name for name, value in vars(enum_class).items()
            if not name.startswith("_") and isinstance(value, int)}
