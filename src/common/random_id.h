// Random ids in hex (request ids, trace and span ids): unique, not secret. One generator per
// thread, seeded from the OS with 128 bits: ids must not repeat across threads or restarts, and
// making one must not take a lock on an io thread.
#pragma once

#include <string>

namespace tessera {

// `digits` lower-case hex digits (1..64).
std::string RandomHexId(int digits);

}  // namespace tessera
