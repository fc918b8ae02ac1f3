// SMTP submission client (RFC 5321; STARTTLS RFC 3207; AUTH RFC 4954;
// PIPELINING RFC 2920; enhanced status codes RFC 3463) on the shared line engine.
//
// Usage: Connect() (greeting, EHLO, STARTTLS and EHLO again when configured),
// Authenticate(), Send() for each message, Quit().
// A Client is used by one coroutine at a time.
#ifndef MAILGATE_SMTP_SMTP_CLIENT_H_
#define MAILGATE_SMTP_SMTP_CLIENT_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/connection.h"
#include "sasl/sasl.h"
#include "smtp/reply_parser.h"

namespace mailgate::smtp {

struct ClientOptions {
  std::string helo_name;  // our name in EHLO; empty: this machine's host name
};

struct Envelope {
  std::string from;             // MAIL FROM address (may be empty: null sender)
  std::vector<std::string> to;  // RCPT TO addresses
};

struct RecipientResult {
  std::string address;
  Reply reply;
  bool accepted() const { return reply.code >= 200 && reply.code < 300; }
};

struct SendResult {
  std::vector<RecipientResult> recipients;
  Reply data_reply;  // the reply after the message's final "."
};

// The Status for a negative reply: 4xx Transient, 5xx Permanent, with known
// Exchange Online and Dovecot replies explained. `during` names the step.
Status ReplyError(std::string_view during, const Reply& reply);

// Normalises a message for DATA: bare LF becomes CRLF, lines starting with
// "." are dot-stuffed (RFC 5321 §4.5.2) and the result ends with CRLF. The
// terminating "." line is not included. Works on chunks: `at_line_start`
// and `pending_cr` carry the state between calls.
class DataEncoder {
 public:
  // Appends the encoded form of `chunk` to `out`.
  void Encode(std::string_view chunk, std::string& out);
  // Appends what is needed to end the message (a final CRLF, then ".\r\n").
  void Finish(std::string& out);

 private:
  bool at_line_start_ = true;
  bool pending_cr_ = false;
};

class Client {
 public:
  // No default arguments: g++ 12 destroys default-argument temporaries of a
  // co_await expression twice. Callers pass named objects.
  static boost::asio::awaitable<StatusOr<std::unique_ptr<Client>>> Connect(
      boost::asio::any_io_executor ex, net::ConnectOptions options, ClientOptions client,
      net::TraceFn trace);
  ~Client();

  // AUTH with the chosen mechanism. The initial response goes on the AUTH line
  // only when the whole line stays within 512 octets (RFC 4954 §4; Dovecot's
  // submission service refuses longer lines with "500 5.5.2 Line too long"),
  // else after the server's 334. On an authentication failure with a token it
  // asks auth.secret(true) once for a fresh token and retries (reconnecting
  // when the server hung up). Errors: Status::Auth, Status::Transient.
  boost::asio::awaitable<Status> Authenticate(const sasl::AuthOptions& auth);

  // Sends one message (RFC 5322 text; bare LF accepted). MAIL FROM, RCPT TO and
  // DATA are pipelined when the server allows it. Returns per-recipient results
  // when at least one recipient was accepted and the message was delivered to
  // them; an error when the transaction failed as a whole (Transient for 4xx,
  // Permanent for 5xx). When it failed because every recipient was refused,
  // refused_recipients() then holds each recipient's reply.
  boost::asio::awaitable<StatusOr<SendResult>> Send(const Envelope& envelope,
                                                    std::string_view message);

  // The RCPT TO replies of the last Send() when it failed because every
  // recipient was refused (its error names only one of them); empty otherwise.
  const std::vector<RecipientResult>& refused_recipients() const { return refused_; }

  boost::asio::awaitable<Status> Rset();
  boost::asio::awaitable<Status> Noop();
  boost::asio::awaitable<Status> Quit();

  const Extensions& extensions() const { return ext_; }
  const Reply& greeting() const { return greeting_; }

 private:
  Client(boost::asio::any_io_executor ex, net::ConnectOptions options, ClientOptions client,
         net::TraceFn trace);
  boost::asio::awaitable<Status> Open();
  boost::asio::awaitable<Status> Hello();
  boost::asio::awaitable<StatusOr<Reply>> ReadReply();
  boost::asio::awaitable<StatusOr<Reply>> Command(std::string_view line,
                                                  std::string_view trace_as = {});
  boost::asio::awaitable<Status> AuthenticateOnce(const sasl::AuthOptions& auth,
                                                  const std::string& secret);
  boost::asio::awaitable<Status> SendBody(std::string_view message);
  Status Checked(Status s);

  boost::asio::any_io_executor ex_;
  net::ConnectOptions options_;
  ClientOptions client_;
  net::TraceFn trace_;
  std::unique_ptr<net::Connection> conn_;
  Reply greeting_;
  Extensions ext_;
  std::vector<RecipientResult> refused_;
  bool closed_by_server_ = false;
};

}  // namespace mailgate::smtp

#endif  // MAILGATE_SMTP_SMTP_CLIENT_H_
