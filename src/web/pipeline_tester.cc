#include "web/pipeline_tester.h"

#include <boost/asio/co_spawn.hpp>
#include <exception>

#include "pipeline/run_log.h"
#include "pipeline/tester.h"

namespace mailgate::web {
namespace {

namespace asio = boost::asio;

class PipelineTester final : public ConnectionTester {
 public:
  PipelineTester(asio::any_io_executor ex, pipeline::ConnectEnv env)
      : ex_(std::move(ex)), env_(std::move(env)) {}

  void TestMailbox(store::Mailbox mailbox, Done done) override {
    auto log = std::make_shared<pipeline::RunLog>(nullptr, "test", "mailbox/" + mailbox.name);
    Spawn(log, std::move(done),
          pipeline::TestMailbox(ex_, std::move(mailbox), env_, log.get(), /*trace=*/true));
  }

  void TestTransport(store::Transport transport, std::string send_to, Done done) override {
    auto log = std::make_shared<pipeline::RunLog>(nullptr, "test", "transport/" + transport.name);
    Spawn(log, std::move(done),
          pipeline::TestTransport(ex_, std::move(transport), env_, std::move(send_to), log.get(),
                                  /*trace=*/true));
  }

 private:
  void Spawn(std::shared_ptr<pipeline::RunLog> log, Done done, asio::awaitable<Status> test) {
    asio::co_spawn(ex_, std::move(test),
                   [log, done = std::move(done)](std::exception_ptr e, Status s) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& err) {
                         s = Status::Internal(std::string("the test failed unexpectedly: ") +
                                              err.what() + "; please report this bug");
                       }
                       log->Error(s.message());
                     }
                     done(TestOutcome{s, log->lines()});
                   });
  }

  asio::any_io_executor ex_;
  pipeline::ConnectEnv env_;
};

}  // namespace

std::unique_ptr<ConnectionTester> NewPipelineTester(asio::any_io_executor ex,
                                                    pipeline::ConnectEnv env) {
  return std::make_unique<PipelineTester>(std::move(ex), std::move(env));
}

}  // namespace mailgate::web
