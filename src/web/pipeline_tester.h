// The ConnectionTester of `mailgate serve`: pipeline::TestMailbox and
// TestTransport as coroutines on the server's executor, with a RunLog that
// only collects lines (store = nullptr: a Test is not a run).
#ifndef MAILGATE_WEB_PIPELINE_TESTER_H_
#define MAILGATE_WEB_PIPELINE_TESTER_H_

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "pipeline/config.h"
#include "web/connection_tester.h"

namespace mailgate::web {

// REQUIRES: the executor's context outlives the tester and every test it started.
std::unique_ptr<ConnectionTester> NewPipelineTester(boost::asio::any_io_executor ex,
                                                    pipeline::ConnectEnv env);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_PIPELINE_TESTER_H_
