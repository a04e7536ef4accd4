#include "control/process_stats.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "fmt/format.h"

namespace tessera::control {

double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  double utime = 0, stime = 0;
  // After ')': field 3 (state) is the 1st token; utime is field 14 (12th), stime field 15.
  try {
    for (int i = 1; i <= 13 && fields >> field; ++i) {
      if (i == 12) utime = std::stod(field);
      if (i == 13) stime = std::stod(field);
    }
  } catch (...) {
    return -1;
  }
  if (!fields) return -1;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int64_t ReadProcKilobytes(pid_t pid, const char* file, std::string_view field) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/{}", pid, file));
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      try {
        return std::stoll(line.substr(field.size() + 1)) * 1024;
      } catch (...) {
        return 0;
      }
    }
  }
  return 0;
}

}  // namespace tessera::control
