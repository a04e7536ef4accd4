// Tuning knobs read from the environment of `tessera serve` (docs/data-plane.md, "Tuning").
#pragma once

namespace tessera::cli {

// The variable as a non-negative number, or `fallback` when unset, empty or not one (logged).
double EnvNumber(const char* name, double fallback);

}  // namespace tessera::cli
