#include "cli/replica_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/http/url.h"
#include "common/logging.h"
#include "common/replica_spec.h"
#include "fmt/format.h"
#include "runtime/replica_server.h"
#include "spdlog/spdlog.h"

namespace tessera::cli {
namespace {

// Exit status when the replica cannot start (the supervisor reports the last stderr line).
constexpr int kStartFailedExitCode = 2;

struct ReplicaFlags {
  runtime::ReplicaServerOptions server;
  std::string model_dir;
  std::string listen;  // optional TCP host:port
  double drain_timeout_s = 30;
  int64_t max_queued_mib = 256;
  long parent_pid = 0;  // 0: do not watch
  std::string log_level = "info";
  std::string log_format = "text";
};

int Fail(const std::string& what, const absl::Status& status) {
  // Last line on stderr: the supervisor surfaces it as the deploy operation's error.
  std::fflush(stdout);
  const std::string message(status.message());
  if (what.empty()) {
    std::fprintf(stderr, "tessera replica: %s\n", message.c_str());
  } else {
    std::fprintf(stderr, "tessera replica: %s: %s\n", what.c_str(), message.c_str());
  }
  std::fflush(stderr);
  return kStartFailedExitCode;
}

// Blocks until SIGTERM or SIGINT (blocked in every thread, see RunReplica), or until the process
// `parent_pid` is no longer our parent. Returns what happened, for the log.
std::string WaitForStop(const sigset_t& signals, long parent_pid) {
  while (true) {
    const timespec one_second{1, 0};
    const int signal = ::sigtimedwait(&signals, nullptr, &one_second);
    if (signal > 0) return fmt::format("signal {}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    if (signal < 0 && errno != EAGAIN && errno != EINTR) {
      return fmt::format("sigtimedwait failed: {}", std::strerror(errno));
    }
    if (parent_pid > 0 && ::getppid() != parent_pid) {
      return fmt::format("the parent process {} is gone", parent_pid);
    }
  }
}

int RunReplica(ReplicaFlags flags) {
  absl::StatusOr<LogFormat> format = ParseLogFormat(flags.log_format);
  if (!format.ok()) return Fail("bad --log-format", format.status());
  absl::Status logging = InitLogging("replica", flags.log_level, *format);
  if (!logging.ok()) return Fail("bad --log-level", logging);
  flags.server.model_dir = flags.model_dir;
  if (!flags.listen.empty()) {
    auto host_port = http::ParseHostPort(flags.listen);
    if (!host_port.ok()) return Fail("bad --listen", host_port.status());
    flags.server.tcp_address = host_port->host;
    flags.server.tcp_port = host_port->port;
  }
  flags.server.max_queued_bytes = flags.max_queued_mib << 20;
  const absl::Status options = runtime::ValidateReplicaServerOptions(flags.server);
  if (!options.ok()) return Fail("bad options", options);
  std::error_code ec;
  if (!std::filesystem::is_directory(flags.server.model_dir, ec)) {
    return Fail("cannot load the model",
                absl::NotFoundError(fmt::format("{} is not a directory", flags.model_dir)));
  }

  // SIGTERM/SIGINT are blocked before any thread starts (threads inherit the mask) and taken by
  // sigtimedwait below: a signal during loading is handled once the replica is up.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spdlog::info("loading {} (max batch {}, queue delay {} us, queue {}, {} engine threads)",
               flags.model_dir, flags.server.max_batch_size, flags.server.max_queue_delay_us,
               flags.server.max_queue_size, flags.server.num_threads);
  auto server = runtime::ReplicaServer::Create(flags.server);
  // The message says what failed: "cannot load the model: ..." or "cannot listen on ...".
  if (!server.ok()) return Fail("", server.status());
  spdlog::info("serving on {}{}",
               flags.server.unix_socket_path.empty() ? "" : "unix:" + flags.server.unix_socket_path,
               flags.server.tcp_address.empty()
                   ? ""
                   : fmt::format(" http://{}:{}", flags.server.tcp_address, (*server)->tcp_port()));

  const std::string why = WaitForStop(signals, flags.parent_pid);
  spdlog::info("{}: draining", why);
  (*server)->Drain(absl::Seconds(flags.drain_timeout_s));
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void AddReplicaCommand(CLI::App& app) {
  auto flags = std::make_shared<ReplicaFlags>();
  runtime::ReplicaServerOptions& s = flags->server;
  CLI::App* cmd = app.add_subcommand(
      "replica",
      "Serve one model as a replica process (started by `tessera serve`): HTTP on a unix socket");
  cmd->add_option("--model", flags->model_dir,
                  "Checkpoint folder (config.json, preprocessor_config.json, model.safetensors)")
      ->required();
  cmd->add_option("--socket", s.unix_socket_path, "Unix socket path to serve on");
  cmd->add_option("--packed-weights", s.packed_weights_path,
                  "Share prepacked weights with other replicas through this file (written if "
                  "absent or stale)");
  cmd->add_option("--listen", flags->listen, "Also (or instead) serve on TCP HOST:PORT");
  // The serving settings (common/replica_spec.h) are checked by ValidateReplicaSpec, the
  // validator deploy applies, not by CLI ranges that could drift from it.
  cmd->add_option("--threads", s.num_threads, "Engine threads per forward pass (0 = all CPUs)");
  cmd->add_option("--io-threads", s.io_threads,
                  "HTTP threads (they decode and preprocess images with --preprocess io)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--preprocess", s.preprocess,
                  "Where images are decoded: io (HTTP threads, overlapping the forward pass), "
                  "batch (the engine's threads, before it) or auto (batch when the engine threads "
                  "take every CPU)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, runtime::PreprocessPlace>{
              {"auto", runtime::PreprocessPlace::kAuto},
              {"io", runtime::PreprocessPlace::kIoThreads},
              {"batch", runtime::PreprocessPlace::kBatchThread}},
          CLI::ignore_case));
  cmd->add_option("--max-batch-size", s.max_batch_size, "Most images per forward pass (1-1024)")
      ->capture_default_str();
  cmd->add_option("--max-queue-delay-us", s.max_queue_delay_us,
                  "How long an image may wait for batch-mates (0: never wait; at most 60 s)")
      ->capture_default_str();
  cmd->add_option("--max-queue-size", s.max_queue_size,
                  "Most images waiting for a batch (at least --max-batch-size); beyond it "
                  "requests get 429")
      ->capture_default_str();
  cmd->add_option("--max-queued-mib", flags->max_queued_mib,
                  "Most MiB of images admitted and not yet answered; beyond it requests get 429 "
                  "(0: no byte limit; the supervisor passes 1/4 of the machine type's memory)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--max-instances", s.codec.max_instances,
                  "Most instances in one request (at most --max-queue-size)")
      ->capture_default_str();
  cmd->add_option("--input-key", s.codec.input_key,
                  "Instance key holding {\"b64\": ...} (requests may override with inputKey)")
      ->capture_default_str();
  cmd->add_option("--precision", s.precision,
                  "fp32; bf16 (encoder GEMMs in bfloat16; needs AVX-512 BF16 or AMX); int8 "
                  "(encoder GEMMs in 8-bit integers; needs AVX2, fast with VNNI or AMX)")
      ->capture_default_str();
  cmd->add_option("--min-precision-agreement", s.min_precision_agreement,
                  "bf16 / int8: the share of calibration images whose top-1 class must match "
                  "fp32's at warm-up, else the replica does not start")
      ->capture_default_str();
  cmd->add_option("--max-image-pixels", s.max_image_pixels,
                  "Largest decoded image (width * height); larger ones get 400")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--drain-timeout-s", flags->drain_timeout_s,
                  "On SIGTERM, how long in-flight requests may take to finish")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--parent-pid", flags->parent_pid,
                  "Drain and exit when this process is no longer the parent (supervisor died)")
      ->check(CLI::Range(0L, 1L << 30));
  cmd->add_option("--log-format", flags->log_format, "text or json")->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "debug, info, warn or error")
      ->capture_default_str();
  cmd->callback([flags]() {
    const int status = RunReplica(*flags);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace tessera::cli
