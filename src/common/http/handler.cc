#include "common/http/handler.h"

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/http/google_error.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace tessera::http {

// Shared by every copy of one Responder.
class Responder::Slot {
 public:
  Slot(SendFunction send, std::string request_id)
      : send_(std::move(send)), request_id_(std::move(request_id)) {}

  ~Slot() {
    // The last copy is gone: answer for the handler rather than leave the client waiting.
    if (send_) {
      const absl::Status status =
          absl::InternalError(request_id_.empty()
                                  ? std::string("the request handler finished without responding")
                                  : fmt::format("the request handler finished without responding "
                                                "(request id {})",
                                                request_id_));
      send_(GoogleErrorResponse(500, status, request_id_));
    }
  }

  bool Respond(HttpResponse&& response) {
    SendFunction send;
    {
      absl::MutexLock lock(&mu_);
      if (responded_) {
        spdlog::error(
            "http: a request was answered twice; the second response (status {}) is "
            "dropped",
            response.status);
        return false;
      }
      responded_ = true;
      send = std::move(send_);
      send_ = nullptr;
    }
    if (send) send(std::move(response));
    return true;
  }

  bool responded() const {
    absl::MutexLock lock(&mu_);
    return responded_;
  }

  const std::string& request_id() const { return request_id_; }

 private:
  mutable absl::Mutex mu_;
  bool responded_ ABSL_GUARDED_BY(mu_) = false;
  // Consumed by the first Respond(); read by the destructor when nobody responded (no lock
  // needed there: the destructor has the only reference).
  SendFunction send_;
  const std::string request_id_;
};

Responder::Responder(SendFunction send, std::string request_id)
    : slot_(std::make_shared<Slot>(std::move(send), std::move(request_id))) {}

Responder::Responder(SendFunction send, std::shared_ptr<CancellationToken> cancellation,
                     std::string request_id)
    : slot_(std::make_shared<Slot>(std::move(send), std::move(request_id))),
      cancellation_(std::move(cancellation)) {}

Responder Responder::Intercepted(std::function<void(HttpResponse&)> edit) const {
  Responder inner = *this;
  Responder out(
      [inner, edit = std::move(edit)](HttpResponse&& response) {
        edit(response);
        inner.Respond(std::move(response));
      },
      slot_ != nullptr ? slot_->request_id() : std::string());
  out.cancellation_ = cancellation_;
  return out;
}

bool Responder::Respond(HttpResponse&& response) const {
  if (slot_ == nullptr) return false;
  return slot_->Respond(std::move(response));
}

bool Responder::responded() const { return slot_ != nullptr && slot_->responded(); }

Handler WrapSync(SyncHandler handler) {
  return [handler = std::move(handler)](HttpRequest&& request, Responder responder) {
    responder.Respond(handler(std::move(request)));
  };
}

}  // namespace tessera::http
