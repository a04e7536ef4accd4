// The server-side handler interface: a handler receives a request and a Responder, and answers
// through the Responder now (synchronous) or later from any thread (asynchronous, e.g. after a
// replica answered). No Boost.Beast in here.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/cancellation.h"
#include "common/http/http_types.h"

namespace tessera::http {

// A one-shot channel back to the client of one request.
//
// Made by HttpServer for each request and handed to the handler. Copyable and movable; all copies
// share one slot. Respond() may be called from any thread; the first call sends the response and
// every later call is ignored (logged as a bug). When the last copy is destroyed without a
// response, the client gets 500 (a Google error "handler finished without responding", with the
// request id when the Responder was given one): a request is never left hanging. Responding after the server was shut down is a harmless no-op.
// Respond() is cheap: it queues the response on the connection's io thread and returns.
//
// Cancellation: HttpServer cancels a request's token when its client closes the connection
// before the answer (the client is gone: whatever work is left for it is waste). Handlers pass
// cancellation() on to whatever may still skip work (a call to a replica, a batcher queue).
class Responder {
 public:
  // What Respond() calls, exactly once (HttpServer supplies it; tests may pass their own).
  using SendFunction = std::function<void(HttpResponse&&)>;

  // An empty responder: Respond() does nothing.
  Responder() = default;
  explicit Responder(SendFunction send, std::string request_id = "");
  // With the token the server cancels when the client goes away.
  Responder(SendFunction send, std::shared_ptr<CancellationToken> cancellation,
            std::string request_id = "");

  // Sends `response`; returns false (and logs an error) when this request was already answered.
  bool Respond(HttpResponse&& response) const;
  // Same as Respond(), for `responder(JsonResponse(200, j))`.
  void operator()(HttpResponse&& response) const { Respond(std::move(response)); }
  // True once a response was sent through any copy.
  bool responded() const;
  // True once the client went away (never for an empty responder or one made without a token).
  bool cancelled() const { return cancellation_ != nullptr && cancellation_->cancelled(); }
  // The request's token (null for an empty responder or one made without a token).
  CancellationTokenPtr cancellation() const { return cancellation_; }

  // A responder whose response passes through `edit` before this one sends it, with the same
  // request id and cancellation (the front door adds headers and writes audit lines this way).
  // A handler that drops it without responding still gets its 500, edited likewise.
  Responder Intercepted(std::function<void(HttpResponse&)> edit) const;

 private:
  class Slot;
  std::shared_ptr<Slot> slot_;
  // Not in the Slot: whoever keeps the token (a queued batch task) must not keep the Slot alive,
  // whose last copy answers for a handler that forgot to.
  std::shared_ptr<CancellationToken> cancellation_;
};

// An asynchronous handler. Called on a server io thread: it must not block (no waiting on a
// replica, no long computation); hand such work to another thread together with the Responder.
// The request is the handler's to move from. An exception thrown here becomes a 500 response
// carrying the request id (exception_response.h).
using Handler = std::function<void(HttpRequest&& request, Responder responder)>;

// A synchronous handler: returns the response. Runs on an io thread, so only for cheap work
// (health checks, listing in-memory state).
using SyncHandler = std::function<HttpResponse(HttpRequest&& request)>;

// Adapts a SyncHandler to the Handler interface.
Handler WrapSync(SyncHandler handler);

}  // namespace tessera::http
