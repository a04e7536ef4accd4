#include "common/current_exception.h"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include "fmt/format.h"

namespace tessera {
namespace {

std::string Demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && name != nullptr ? std::string(name.get()) : std::string(mangled);
}

}  // namespace

std::string CurrentExceptionMessage() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "no exception";
  const std::string type_name = Demangle(type->name());
  try {
    throw;
  } catch (const std::exception& e) {
    return fmt::format("{}: {}", type_name, e.what());
  } catch (...) {
    return fmt::format("an exception of type {}", type_name);
  }
}

}  // namespace tessera
