// The model on TFLM: interpreter set-up, input from 8-bit pixels, invoke,
// outputs. Errors are printed on the console, never silent.
#ifndef TEENSYML_INFERENCE_H
#define TEENSYML_INFERENCE_H

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/micro/micro_interpreter.h"

#include "layer_profiler.h"

constexpr int kImageSide = 28;
constexpr int kImageBytes = kImageSide * kImageSide;
constexpr int kClasses = 10;

class Inference {
 public:
  // Parses the model and plans the arena; false (after printing why) on failure.
  bool Setup();
  bool ready() const { return interpreter_ != nullptr; }

  // Fills the input tensor from row-major 8-bit grey pixels (0 = black),
  // scaled to [0, 1] and quantised as the model's input asks.
  bool SetInput(const uint8_t* pixels);
  // Runs the model; per-operator cycles go to the profiler.
  bool Invoke();
  // The predicted class: the index of the largest output.
  int Predicted() const;

  tflite::MicroInterpreter& interpreter() { return *interpreter_; }
  LayerProfiler& profiler() { return profiler_; }
  const char* model_name() const;
  size_t arena_size() const;

 private:
  tflite::MicroInterpreter* interpreter_ = nullptr;
  LayerProfiler profiler_;
};

#endif
