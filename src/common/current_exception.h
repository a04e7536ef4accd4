// What the exception being handled is, for catch (...) blocks at a thread's top: such a block
// must answer or log something useful whether the code below threw a std::exception or
// `throw 42`. Thread-safe.
#pragma once

#include <string>

namespace tessera {

// Call only inside a catch block. "std::length_error: vector::_M_default_append" for a standard
// exception, "an exception of type int" for anything else.
std::string CurrentExceptionMessage();

}  // namespace tessera
