// The model on TFLM: interpreter set-up, the model's input and output
// tensors as the console protocol sees them, invoke. Errors are printed on
// the console, never silent.
#ifndef TEENSYML_INFERENCE_H
#define TEENSYML_INFERENCE_H

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/micro/micro_interpreter.h"

#include "layer_profiler.h"
#include "tensor_console.h"

// The MNIST commands (2 and 3) need one input of a 28x28 image's pixels and
// ten class scores in the first output, each int8 or float32.
constexpr int kImageSide = 28;
constexpr int kImageBytes = kImageSide * kImageSide;
constexpr int kClasses = 10;
// Inputs and outputs the app describes and feeds (command 4 numbers them in
// one byte); model_codegen.py refuses a model with more at build time.
constexpr int kMaxModelTensors = 32;

class Inference {
 public:
  // Parses the model and plans the arena; false (after printing why) on failure.
  bool Setup();
  bool ready() const { return interpreter_ != nullptr; }

  int input_count() const { return input_count_; }
  int output_count() const { return output_count_; }
  tensor_view* inputs();
  const tensor_view& output(int index) const;

  // Whether commands 2 and 3 apply: an MNIST-shaped model (see above).
  bool mnist_shaped() const { return mnist_shaped_; }
  // MNIST: fills the input from row-major 8-bit grey pixels (0 = black),
  // scaled to [0, 1] and quantised as the model's input asks.
  void SetImage(const uint8_t* pixels);
  // MNIST: the predicted class, the index of the largest output.
  int Predicted() const;

  // Runs the model from its initial state (variable tensors reset: each input is
  // independent); per-operator cycles go to the profiler.
  bool Invoke();

  tflite::MicroInterpreter& interpreter() { return *interpreter_; }
  LayerProfiler& profiler() { return profiler_; }
  size_t arena_size() const;

 private:
  bool DescribeTensors(const tflite::Model* model);

  tflite::MicroInterpreter* interpreter_ = nullptr;
  LayerProfiler profiler_;
  int input_count_ = 0;
  int output_count_ = 0;
  bool mnist_shaped_ = false;
};

#endif
