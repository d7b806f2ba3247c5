#include "layer_profiler.h"

#include <utility>

#include "cycle_counter.h"

namespace {

using InvokeFunction = TfLiteStatus (*)(TfLiteContext*, TfLiteNode*);

LayerProfiler* attached = nullptr;
InvokeFunction kernel_invoke[kModelOpCount] = {};

// Operator K's invoke, timed: one instance per registered operator, so each
// knows which kernel it stands for and its name.
template <unsigned int K>
TfLiteStatus TimedInvoke(TfLiteContext* context, TfLiteNode* node) {
  const uint32_t start = attached->Begin(kModelOpNames[K]);
  const TfLiteStatus status = kernel_invoke[K](context, node);
  attached->End(kModelOpNames[K], start);
  return status;
}

template <unsigned int K>
void Wrap(ModelOpResolver& resolver) {
  TFLMRegistration* registration = ModelOpRegistration(resolver, K);
  if (registration == nullptr || registration->invoke == nullptr ||
      registration->invoke == TimedInvoke<K>)
    return;
  kernel_invoke[K] = registration->invoke;
  registration->invoke = TimedInvoke<K>;
}

template <unsigned int... K>
void WrapEach(ModelOpResolver& resolver, std::integer_sequence<unsigned int, K...>) {
  (Wrap<K>(resolver), ...);
}

}  // namespace

void LayerProfiler::Attach(ModelOpResolver& resolver) {
  attached = this;
  WrapEach(resolver, std::make_integer_sequence<unsigned int, kModelOpCount>());
}

__attribute__((noipa)) uint32_t LayerProfiler::Begin(const char*) {
  return cycle_counter_read();
}

__attribute__((noipa)) void LayerProfiler::End(const char* tag, uint32_t start) {
  const uint32_t cycles = cycle_counter_read() - start;
  if (count_ >= kMaxEvents) return;  // dropped: more operators ran than slots
  events_[count_++] = {tag, cycles};
}
