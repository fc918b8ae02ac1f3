// A scripted mail server on 127.0.0.1 for what the real servers will not
// produce (Exchange Online's replies, a close mid-response, a broken TLS
// set-up). After curl's test servers: a transcript says what to send and what
// the client must send back.
//
// The server runs on its own thread with blocking sockets, so a test drives
// the client on its own io_context in the test thread.
#ifndef MAILGATE_TESTS_SUPPORT_FAKE_SERVER_H_
#define MAILGATE_TESTS_SUPPORT_FAKE_SERVER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mailgate::testing {

struct Step {
  enum class Kind {
    kSend,      // send text + CRLF
    kSendRaw,   // send text as is
    kExpect,    // read one line (CRLF or LF stripped) and match it against a glob
    kStartTls,  // TLS handshake as the server (after answering STARTTLS/STLS)
    kClose,     // close the connection now
  };
  Kind kind;
  std::string text;
};

// Builds a transcript: Script().Send("+OK ready").Expect("CAPA").Send(...)...
class Script {
 public:
  Script& Send(std::string line);
  Script& SendRaw(std::string bytes);
  // `pattern` is a glob: '*' matches any run of characters, '?' one character.
  Script& Expect(std::string pattern);
  Script& StartTls();
  Script& Close();
  const std::vector<Step>& steps() const { return steps_; }

 private:
  std::vector<Step> steps_;
};

bool GlobMatch(std::string_view pattern, std::string_view text);

class FakeServer {
 public:
  struct Options {
    bool implicit_tls = false;  // handshake right after accept
    std::string cert_file;      // PEM certificate (chain) and key for TLS
    std::string key_file;
    int io_timeout_seconds = 20;  // a silent client fails the script instead of hanging it
  };
  // Listens on 127.0.0.1 (an ephemeral port) and serves one connection per
  // script, one after the other (a client that reconnects gets the next one).
  FakeServer(std::vector<Script> scripts, Options options);
  FakeServer(Script script, Options options)
      : FakeServer(std::vector<Script>{std::move(script)}, std::move(options)) {}
  explicit FakeServer(Script script) : FakeServer(std::move(script), Options()) {}
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  uint16_t port() const { return port_; }
  // Waits until the script has run (or the client went away) and returns ""
  // when every step matched, else a description of the first mismatch.
  std::string Finish();
  // Every line the client sent, in order.
  std::vector<std::string> received();

 private:
  void Run();
  bool Serve(const Script& script, std::size_t connection);

  std::vector<Script> scripts_;
  Options options_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> received_;  // guarded by mu_
  std::string error_;                  // guarded by mu_
  bool finished_ = false;
};

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_FAKE_SERVER_H_
