#include "serving/predict/predict_context.h"

#include <utility>

namespace tessera::serving {
namespace {

const PredictContext kNoContext;
thread_local const PredictContext* current = &kNoContext;

}  // namespace

const PredictContext& CurrentPredictContext() { return *current; }

ScopedPredictContext::ScopedPredictContext(PredictContext context)
    : context_(std::move(context)), previous_(current) {
  current = &context_;
}

ScopedPredictContext::~ScopedPredictContext() { current = previous_; }

}  // namespace tessera::serving
