// `tessera classify --model DIR [--top-k K] [--threads N] [--max-batch-size B] IMAGE...`:
// runs the engine alone on image files and prints a JSON array with one object per image,
//   {"image": PATH, "predictions": [{"label": ..., "class_index": ..., "confidence": ...}]}
// or {"image": PATH, "error": MESSAGE}. Exit status 1 when the model fails to load or any image
// fails.
#pragma once

#include "CLI/CLI.hpp"

namespace tessera::cli {

// Registers the subcommand on `app`.
void AddClassifyCommand(CLI::App& app);

}  // namespace tessera::cli
