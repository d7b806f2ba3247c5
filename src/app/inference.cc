#include "inference.h"

#include <cmath>
#include <cstdio>
#include <new>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "firmware_config.h"
#include "model_data.h"
#include "op_resolver.h"

namespace {

// The arena lives where the linker script puts .tensor_arena (ARENA_MEM=).
alignas(16) uint8_t tensor_arena[kTensorArenaSize] __attribute__((section(".tensor_arena")));

alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
ModelOpResolver op_resolver;

int8_t Quantize(float value, float scale, int zero_point) {
  long q = lroundf(value / scale) + zero_point;
  return static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
}

}  // namespace

const char* Inference::model_name() const { return kModelName; }
size_t Inference::arena_size() const { return kTensorArenaSize; }

bool Inference::Setup() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    printf("error: model schema version %lu, this TFLM reads version %d\r\n",
           static_cast<unsigned long>(model->version()), TFLITE_SCHEMA_VERSION);
    return false;
  }
  if (RegisterModelOps(op_resolver) != kTfLiteOk) {
    printf("error: registering the model's operators failed\r\n");
    return false;
  }
  auto* interpreter = new (interpreter_storage) tflite::MicroInterpreter(
      model, op_resolver, tensor_arena, kTensorArenaSize, nullptr, &profiler_);
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    printf("error: arena too small or model unsupported: AllocateTensors failed with "
           "%lu bytes of arena; rebuild with a larger ARENA_SIZE=\r\n",
           static_cast<unsigned long>(kTensorArenaSize));
    return false;
  }
  const TfLiteTensor* input = interpreter->input(0);
  const TfLiteTensor* output = interpreter->output(0);
  if (input->bytes / (input->type == kTfLiteInt8 ? 1 : sizeof(float)) != kImageBytes ||
      output->bytes / (output->type == kTfLiteInt8 ? 1 : sizeof(float)) != kClasses ||
      (input->type != kTfLiteInt8 && input->type != kTfLiteFloat32)) {
    printf("error: the model must take %d int8 or float32 pixels and give %d outputs\r\n",
           kImageBytes, kClasses);
    return false;
  }
  interpreter_ = interpreter;
  return true;
}

bool Inference::SetInput(const uint8_t* pixels) {
  TfLiteTensor* input = interpreter_->input(0);
  for (int i = 0; i < kImageBytes; ++i) {
    const float value = pixels[i] / 255.0f;
    if (input->type == kTfLiteInt8) {
      input->data.int8[i] = Quantize(value, input->params.scale, input->params.zero_point);
    } else {
      input->data.f[i] = value;
    }
  }
  return true;
}

bool Inference::Invoke() {
  profiler_.Clear();
  if (interpreter_->Invoke() != kTfLiteOk) {
    printf("error: invoke failed\r\n");
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
