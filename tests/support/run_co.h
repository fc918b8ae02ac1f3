// Runs one coroutine to completion on a fresh io_context: the test thread
// drives the client while a FakeServer answers on its own thread.
#ifndef MAILGATE_TESTS_SUPPORT_RUN_CO_H_
#define MAILGATE_TESTS_SUPPORT_RUN_CO_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <functional>
#include <optional>

namespace mailgate::testing {

// `body` receives the io_context's executor and returns the awaitable to run.
template <typename T>
T RunCo(const std::function<boost::asio::awaitable<T>(boost::asio::any_io_executor)>& body) {
  boost::asio::io_context io;
  std::optional<T> result;
  std::exception_ptr error;
  auto ex = io.get_executor();
  // A void wrapper: co_spawn's value form needs a default-constructible T.
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { result.emplace(co_await body(ex)); },
      [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_RUN_CO_H_
