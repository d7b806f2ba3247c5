#include "inference.h"

#include <cmath>
#include <new>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "console_print.h"
#include "firmware_config.h"
#include "model_data.h"
#include "op_resolver.h"

namespace {

// The arena lives where the linker script puts .tensor_arena (ARENA_MEM=).
alignas(16) uint8_t tensor_arena[kTensorArenaSize] __attribute__((section(".tensor_arena")));

alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
ModelOpResolver op_resolver;
// The console's views of the model's inputs and outputs (zeroed: in .bss,
// not copied from flash as the Inference object, with its vtable, is).
tensor_view input_views[kMaxModelTensors];
tensor_view output_views[kMaxModelTensors];

int8_t Quantize(float value, float scale, int zero_point) {
  long q = lroundf(value / scale) + zero_point;
  return static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
}

tensor_type ConsoleType(TfLiteType type) {
  switch (type) {
    case kTfLiteFloat32: return TENSOR_FLOAT32;
    case kTfLiteFloat16: return TENSOR_FLOAT16;
    case kTfLiteFloat64: return TENSOR_FLOAT64;
    case kTfLiteInt8: return TENSOR_INT8;
    case kTfLiteUInt8: return TENSOR_UINT8;
    case kTfLiteInt16: return TENSOR_INT16;
    case kTfLiteUInt16: return TENSOR_UINT16;
    case kTfLiteInt32: return TENSOR_INT32;
    case kTfLiteUInt32: return TENSOR_UINT32;
    case kTfLiteInt64: return TENSOR_INT64;
    case kTfLiteUInt64: return TENSOR_UINT64;
    case kTfLiteBool: return TENSOR_BOOL;
    default: return TENSOR_OTHER;
  }
}

// The console's view of a tensor: its data stays where TFLM planned it.
tensor_view View(const TfLiteTensor* tensor, const char* name) {
  tensor_view view = {};
  view.type = ConsoleType(tensor->type);
  view.type_name = TfLiteTypeGetName(tensor->type);
  view.rank = tensor->dims->size;
  view.dims = tensor->dims->data;
  view.scale = tensor->params.scale;
  view.zero_point = tensor->params.zero_point;
  view.name = name;
  view.data = static_cast<uint8_t*>(tensor->data.data);
  view.bytes = static_cast<uint32_t>(tensor->bytes);
  return view;
}

uint32_t Elements(const tensor_view& view) {
  return view.type == TENSOR_INT8 ? view.bytes
         : view.type == TENSOR_FLOAT32 ? view.bytes / sizeof(float) : 0;
}

}  // namespace

size_t Inference::arena_size() const { return kTensorArenaSize; }
tensor_view* Inference::inputs() { return input_views; }
const tensor_view& Inference::output(int index) const { return output_views[index]; }

bool Inference::Setup() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    Print("error: model schema version ", model->version(), ", this TFLM reads version ",
          TFLITE_SCHEMA_VERSION, "\r\n");
    return false;
  }
  if (RegisterModelOps(op_resolver) != kTfLiteOk) {
    Print("error: registering the model's operators failed\r\n");
    return false;
  }
  profiler_.Attach(op_resolver);
  auto* interpreter = new (interpreter_storage) tflite::MicroInterpreter(
      model, op_resolver, tensor_arena, kTensorArenaSize);
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    Print("error: arena too small or model unsupported: AllocateTensors failed with ",
          static_cast<uint32_t>(kTensorArenaSize),
          " bytes of arena; rebuild with a larger ARENA_SIZE=\r\n");
    return false;
  }
  interpreter_ = interpreter;
  if (!DescribeTensors(model)) {
    interpreter_ = nullptr;
    return false;
  }
  return true;
}

bool Inference::DescribeTensors(const tflite::Model* model) {
  const auto* subgraph = model->subgraphs()->Get(0);
  input_count_ = static_cast<int>(interpreter_->inputs_size());
  output_count_ = static_cast<int>(interpreter_->outputs_size());
  if (input_count_ > kMaxModelTensors || output_count_ > kMaxModelTensors) {
    Print("error: the model has ", input_count_, " inputs and ", output_count_,
          " outputs; the app takes at most ", kMaxModelTensors, " of each\r\n");
    return false;
  }
  auto name_of = [subgraph](int tensor_index) -> const char* {
    const auto* name = subgraph->tensors()->Get(tensor_index)->name();
    return name ? name->c_str() : nullptr;
  };
  for (int i = 0; i < input_count_; ++i)
    input_views[i] = View(interpreter_->input(i), name_of(subgraph->inputs()->Get(i)));
  for (int i = 0; i < output_count_; ++i)
    output_views[i] = View(interpreter_->output(i), name_of(subgraph->outputs()->Get(i)));
  mnist_shaped_ = input_count_ == 1 && output_count_ >= 1 &&
                  Elements(input_views[0]) == kImageBytes &&
                  Elements(output_views[0]) == kClasses &&
                  input_views[0].type == output_views[0].type;
  return true;
}

void Inference::SetImage(const uint8_t* pixels) {
  TfLiteTensor* input = interpreter_->input(0);
  for (int i = 0; i < kImageBytes; ++i) {
    const float value = pixels[i] / 255.0f;
    if (input->type == kTfLiteInt8) {
      input->data.int8[i] = Quantize(value, input->params.scale, input->params.zero_point);
    } else {
      input->data.f[i] = value;
    }
  }
}

bool Inference::Invoke() {
  profiler_.Clear();
  // Every input (an image, a command-4 sample) is independent: start from the
  // model's initial state. TFLM's reference LSTM keeps its hidden and cell state
  // in variable tensors across Invoke calls (CMSIS-NN's starts from zero each
  // time); docs/model.md, "The LSTM under CMSIS-NN". No-op for a model without
  // variable tensors.
  if (interpreter_->Reset() != kTfLiteOk) {
    Print("error: resetting the model's state failed\r\n");
    return false;
  }
  if (interpreter_->Invoke() != kTfLiteOk) {
    Print("error: invoke failed\r\n");
    return false;
  }
  return true;
}

int Inference::Predicted() const {
  const TfLiteTensor* output = interpreter_->output(0);
  int best = 0;
  for (int i = 1; i < kClasses; ++i) {
    const bool larger = output->type == kTfLiteInt8
                            ? output->data.int8[i] > output->data.int8[best]
                            : output->data.f[i] > output->data.f[best];
    if (larger) best = i;
  }
  return best;
}
