#include "e2e/control_plane_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>

#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

std::atomic<int> log_counter{0};

// Reads everything from `fd` until EOF.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

int ExitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServeProcess>> ServeProcess::Start(
    const std::filesystem::path& data_dir, const std::vector<std::string>& extra_args,
    absl::Duration timeout) {
  std::unique_ptr<ServeProcess> p(new ServeProcess());
  p->log_path_ =
      data_dir.parent_path() / ("serve-" + std::to_string(log_counter.fetch_add(1)) + ".log");
  std::vector<std::string> args = {
      TesseraBinary().string(), "serve", "--listen", "127.0.0.1:0", "--data-dir",
      data_dir.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    const int log = ::open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  p->pid_ = pid;
  // Read the start line: "tessera serving on http://127.0.0.1:PORT (data dir ...)".
  std::string line;
  const absl::Time deadline = absl::Now() + timeout;
  while (line.find('\n') == std::string::npos) {
    pollfd pfd{out_pipe[0], POLLIN, 0};
    const int left_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left_ms <= 0 || ::poll(&pfd, 1, left_ms) <= 0) {
      ::close(out_pipe[0]);
      return absl::DeadlineExceededError("no start line from tessera serve; log:\n" + p->Log());
    }
    char c;
    if (::read(out_pipe[0], &c, 1) != 1) {
      ::close(out_pipe[0]);
      int wstatus = 0;
      ::waitpid(pid, &wstatus, 0);
      p->pid_ = -1;
      return absl::FailedPreconditionError("tessera serve exited with status " +
                                           std::to_string(ExitStatus(wstatus)) + "; log:\n" +
                                           p->Log());
    }
    line.push_back(c);
  }
  ::close(out_pipe[0]);  // later stdout writes get EPIPE (ignored by the server)
  p->start_line_ = line;
  const size_t colon = line.find("127.0.0.1:");
  if (colon == std::string::npos) return absl::InternalError("bad start line: " + line);
  p->port_ = std::atoi(line.c_str() + colon + 10);
  {
    std::ifstream key(data_dir / "admin.key");
    std::getline(key, p->admin_key_);  // absent with --auth=none
  }
  auto client = http::HttpClient::Create({.base_url = p->url()});
  if (!client.ok()) return client.status();
  p->client_ = std::move(*client);
  return p;
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
  }
}

absl::StatusOr<int> ServeProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  client_->CloseIdleConnections();
  ::kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int wstatus = 0;
    const pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ExitStatus(wstatus);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("tessera serve did not exit");
}

std::string ServeProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ServeProcess::Reply ServeProcess::Call(const std::string& method, const std::string& target,
                                       const std::string& body) {
  return CallAs(admin_key_, method, target, body);
}

ServeProcess::Reply ServeProcess::CallAs(const std::string& key, const std::string& method,
                                         const std::string& target, const std::string& body) {
  http::HttpRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  if (!body.empty()) request.headers.Set("Content-Type", "application/json");
  if (!key.empty()) request.headers.Set("Authorization", "Bearer " + key);
  Reply reply;
  auto response = client_->Send(request, absl::Seconds(60));
  if (!response.ok()) {
    reply.raw = std::string(response.status().message());
    reply.body = nlohmann::json::value_t::discarded;
    return reply;
  }
  reply.status = response->status;
  reply.raw = response->body;
  reply.body = nlohmann::json::parse(response->body, nullptr, false);
  reply.stage = response->headers.GetOr("X-Tessera-Stage", "");
  return reply;
}

ServeProcess::Reply ServeProcess::PollOperation(const std::string& name, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  Reply r;
  while (true) {
    r = Call("GET", "/v1/" + name);
    if (r.status != 200 || r.body.value("done", false) || absl::Now() > deadline) return r;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  CliResult result;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  std::vector<std::string> argv_s = {TesseraBinary().string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    // Hermetic: the CLI's default key file (a developer's own server) is not the test's.
    ::setenv("TESSERA_DATA_DIR", "/nonexistent-tessera-test-data-dir", 1);
    ::unsetenv("TESSERA_API_KEY");
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // stderr is small (progress lines); read stdout fully first, then stderr.
  result.out = ReadAll(out_pipe[0]);
  result.err = ReadAll(err_pipe[0]);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  result.exit_status = ExitStatus(wstatus);
  return result;
}

}  // namespace tessera::testing
