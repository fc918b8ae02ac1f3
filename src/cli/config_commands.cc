// mailgate transport ... and mailgate mailbox ...: the Email Transports and
// Email Mailboxes of the seed guide, configured from the command line, with
// the Test of each.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/session.h"
#include "pipeline/config.h"
#include "pipeline/run_log.h"
#include "pipeline/tester.h"
#include "view/records_json.h"

namespace mailgate::cli {
namespace {

namespace json = boost::json;
using view::MailboxJson;
using view::TransportJson;

// Options shared by `add` and `edit`. `edit` changes only what is given.
struct EndpointOptions {
  std::string name;
  std::optional<std::string> host, encryption, auth, user, password_file, account;
  std::optional<int> port, timeout;
};

struct MailboxOptions : EndpointOptions {
  std::optional<std::string> protocol, folder, after_download;
  std::optional<int64_t> max_size_kb;
  std::optional<int> max_messages;
  std::optional<bool> push, download_oversized;
  // Flags (--push / --no-push): set above only when given, for `edit`.
  bool push_flag = false, oversized_flag = false;
  CLI::Option* push_opt = nullptr;
  CLI::Option* oversized_opt = nullptr;
};

struct TransportOptions : EndpointOptions {};

void AddEndpointOptions(CLI::App* cmd, EndpointOptions& o, bool add) {
  cmd->add_option("name", o.name, "Name")->required();
  auto* host = cmd->add_option("--host", o.host, "Server host name");
  if (add) host->required();
  cmd->add_option("--port", o.port, "Port (default: by protocol and encryption)");
  auto* enc = cmd->add_option("--encryption", o.encryption, "tls, starttls or none");
  if (add) enc->required();
  cmd->add_option("--user", o.user, "User name (for XOAUTH2, the mailbox address)");
  cmd->add_option("--password-file", o.password_file, "File holding the password");
  cmd->add_option("--account", o.account, "Connected account giving the OAuth2 tokens");
  cmd->add_option("--timeout", o.timeout, "Seconds for connecting and for each response");
}

void PrintLine(const store::RunLogLine& line) {
  const char* tag = line.level == "error" ? "error: " : line.level == "warning" ? "warning: " : "";
  std::printf("%s%s\n", tag, line.text.c_str());
  std::fflush(stdout);
}

// Applies the common options; reads the password file when given.
Status ApplyEndpoint(const EndpointOptions& o, std::string& host, int& port,
                     std::string& encryption, std::string& auth, std::string& user,
                     store::Secret& password, std::string& account, int& timeout) {
  if (o.host) host = *o.host;
  if (o.port) port = *o.port;
  if (o.encryption) encryption = *o.encryption;
  if (o.user) user = *o.user;
  if (o.timeout) timeout = *o.timeout;
  if (o.account) {
    account = *o.account;
    if (!o.auth && !account.empty()) auth = "xoauth2";
  }
  if (o.password_file) {
    auto secret = ReadSecretFile(*o.password_file, "password");
    if (!secret.ok()) return secret.status();
    password = store::Secret(std::move(*secret));
    if (!o.auth) auth = "password";
  }
  if (o.auth) auth = *o.auth;
  if (auth == "password") account.clear();
  if (auth != "password") password = store::Secret();
  return Status::Ok();
}

Status CheckAccountExists(store::Store& store, const std::string& account) {
  if (account.empty()) return Status::Ok();
  auto a = store.GetAccount(account);
  if (a.ok()) return Status::Ok();
  if (a.status().kind() == Status::Kind::kNotFound) {
    return Status::InvalidArgument(a.status().message());
  }
  return a.status();
}

// --- Transports ----------------------------------------------------------------

int RunTransportSave(const GlobalOptions& g, const TransportOptions& o, bool add) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  store::Transport t;
  t.name = o.name;
  t.auth = "none";
  if (!add) {
    auto existing = (*store)->GetTransport(o.name);
    if (!existing.ok()) return PrintError(existing.status()), kExitFailure;
    t = std::move(*existing);
  }
  Status s = ApplyEndpoint(o, t.host, t.port, t.encryption, t.auth, t.username, t.password,
                           t.account, t.timeout_seconds);
  if (s.ok()) s = pipeline::NormalizeTransport(t);
  if (s.ok()) s = CheckAccountExists(**store, t.account);
  if (!s.ok()) return PrintError(s), ExitFor(s);
  s = add ? (*store)->CreateTransport(t, std::time(nullptr)) : (*store)->UpdateTransport(t);
  if (!s.ok()) return PrintError(s), kExitFailure;
  std::printf("transport '%s' %s: %s:%u (%s, auth %s)\n", t.name.c_str(), add ? "added" : "saved",
              t.host.c_str(), pipeline::EffectivePort(t), t.encryption.c_str(), t.auth.c_str());
  return kExitOk;
}

int RunTransportList(const GlobalOptions& g, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto all = (*store)->ListTransports();
  if (!all.ok()) return PrintError(all.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& t : *all) arr.push_back(TransportJson(t));
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  if (all->empty()) {
    std::printf(
        "No email transports. Add one with `mailgate transport add NAME --host H "
        "--encryption starttls --account ACCOUNT --user ADDRESS`.\n");
    return kExitOk;
  }
  for (const auto& t : *all) {
    std::printf("%-24s %s:%u %s %s %s\n", t.name.c_str(), t.host.c_str(),
                pipeline::EffectivePort(t), t.encryption.c_str(), t.auth.c_str(),
                t.username.c_str());
  }
  return kExitOk;
}

// A record for people: one "key: value" line per field, nested objects as
// "state.key", times (fields named *_at or *_until, epoch seconds in the JSON)
// as dates.
void PrintObject(const json::object& o, const std::string& prefix = "") {
  for (const auto& [key, value] : o) {
    const std::string name = prefix + std::string(key);
    if (value.is_object()) {
      PrintObject(value.as_object(), name + ".");
      continue;
    }
    std::string text;
    if (value.is_string()) {
      text = std::string(value.as_string());
    } else if (value.is_int64() && (name.ends_with("_at") || name.ends_with("_until"))) {
      text = value.as_int64() == 0 ? "never" : FormatTime(value.as_int64());
    } else {
      text = json::serialize(value);
    }
    std::printf("%-28s %s\n", (name + ":").c_str(), text.c_str());
  }
}

int RunTransportShow(const GlobalOptions& g, const std::string& name, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto t = (*store)->GetTransport(name);
  if (!t.ok()) return PrintError(t.status()), kExitFailure;
  if (as_json) {
    std::printf("%s\n", json::serialize(TransportJson(*t)).c_str());
  } else {
    PrintObject(TransportJson(*t));
  }
  return kExitOk;
}

int RunTransportRemove(const GlobalOptions& g, const std::string& name) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  if (Status s = (*store)->DeleteTransport(name); !s.ok()) return PrintError(s), kExitFailure;
  std::printf("transport '%s' removed\n", name.c_str());
  return kExitOk;
}

int RunTransportTest(const GlobalOptions& g, const std::string& name, const std::string& to,
                     bool trace) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto t = session->store->GetTransport(name);
  if (!t.ok()) return PrintError(t.status()), kExitFailure;
  pipeline::RunLog log(nullptr, "test", "transport/" + name, PrintLine);
  const pipeline::ConnectEnv env = MakeConnectEnv(*session, g);
  Status s = RunAsync([&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<Status> {
    co_return co_await pipeline::TestTransport(ex, *t, env, to, &log, trace);
  });
  return s.ok() ? kExitOk : kExitFailure;
}

// --- Mailboxes -----------------------------------------------------------------

int RunMailboxSave(const GlobalOptions& g, const MailboxOptions& o, bool add) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  store::Mailbox m;
  m.name = o.name;
  m.auth = "password";
  if (!add) {
    auto existing = (*store)->GetMailbox(o.name);
    if (!existing.ok()) return PrintError(existing.status()), kExitFailure;
    m = std::move(*existing);
  }
  Status s = ApplyEndpoint(o, m.host, m.port, m.encryption, m.auth, m.username, m.password,
                           m.account, m.timeout_seconds);
  if (o.protocol) m.protocol = *o.protocol;
  if (o.folder) m.folder = *o.folder;
  if (o.after_download) m.after_download = *o.after_download;
  if (o.max_size_kb) m.max_size_kb = *o.max_size_kb;
  if (o.max_messages) m.max_messages_per_run = *o.max_messages;
  if (o.push) m.push = *o.push;
  if (o.download_oversized) m.download_oversized = *o.download_oversized;
  if (s.ok()) s = pipeline::NormalizeMailbox(m);
  if (s.ok()) s = CheckAccountExists(**store, m.account);
  if (!s.ok()) return PrintError(s), ExitFor(s);
  s = add ? (*store)->CreateMailbox(m, std::time(nullptr)) : (*store)->UpdateMailbox(m);
  if (!s.ok()) return PrintError(s), kExitFailure;
  std::printf("mailbox '%s' %s: %s %s:%u (%s, auth %s), folder %s, after download: %s\n",
              m.name.c_str(), add ? "added" : "saved", m.protocol.c_str(), m.host.c_str(),
              pipeline::EffectivePort(m), m.encryption.c_str(), m.auth.c_str(), m.folder.c_str(),
              m.after_download.c_str());
  return kExitOk;
}

int RunMailboxList(const GlobalOptions& g, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto all = (*store)->ListMailboxes();
  if (!all.ok()) return PrintError(all.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& m : *all) arr.push_back(MailboxJson(m));
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  if (all->empty()) {
    std::printf(
        "No email mailboxes. Add one with `mailgate mailbox add NAME --protocol imap "
        "--host H --encryption tls --user ADDRESS --account ACCOUNT`.\n");
    return kExitOk;
  }
  for (const auto& m : *all) {
    std::string state = m.enabled ? "enabled" : "disabled";
    if (!m.last_error.empty()) {
      state += ", failing (" + std::to_string(m.consecutive_failures) + "): " + m.last_error;
    } else if (m.checked_at > 0) {
      state += ", checked " + FormatTime(m.checked_at);
    }
    std::printf("%-24s %s %s:%u %s %s  [%s]\n", m.name.c_str(), m.protocol.c_str(), m.host.c_str(),
                pipeline::EffectivePort(m), m.username.c_str(), m.auth.c_str(), state.c_str());
  }
  return kExitOk;
}

int RunMailboxShow(const GlobalOptions& g, const std::string& name, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto m = (*store)->GetMailbox(name);
  if (!m.ok()) return PrintError(m.status()), kExitFailure;
  if (as_json) {
    std::printf("%s\n", json::serialize(MailboxJson(*m)).c_str());
  } else {
    PrintObject(MailboxJson(*m));
  }
  return kExitOk;
}

int RunMailboxRemove(const GlobalOptions& g, const std::string& name) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  if (Status s = (*store)->DeleteMailbox(name); !s.ok()) return PrintError(s), kExitFailure;
  std::printf("mailbox '%s' removed (its conversations stay)\n", name.c_str());
  return kExitOk;
}

int RunMailboxEnable(const GlobalOptions& g, const std::string& name, bool enabled) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  if (Status s = (*store)->SetMailboxEnabled(name, enabled); !s.ok()) {
    return PrintError(s), kExitFailure;
  }
  std::printf("mailbox '%s' %s\n", name.c_str(), enabled ? "enabled" : "disabled");
  return kExitOk;
}

int RunMailboxTest(const GlobalOptions& g, const std::string& name, bool trace) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto m = session->store->GetMailbox(name);
  if (!m.ok()) return PrintError(m.status()), kExitFailure;
  pipeline::RunLog log(nullptr, "test", "mailbox/" + name, PrintLine);
  const pipeline::ConnectEnv env = MakeConnectEnv(*session, g);
  Status s = RunAsync([&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<Status> {
    co_return co_await pipeline::TestMailbox(ex, *m, env, &log, trace);
  });
  return s.ok() ? kExitOk : kExitFailure;
}

void AddJsonCommand(CLI::App* parent, const char* name, const char* help, RunState& state,
                    int (*run)(const GlobalOptions&, bool)) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_flag("--json", *as_json, "Machine-readable output");
  cmd->callback([as_json, &state, run] { state.exit_code = run(state.global, *as_json); });
}

void AddNamedJsonCommand(CLI::App* parent, const char* name, const char* help, RunState& state,
                         int (*run)(const GlobalOptions&, const std::string&, bool)) {
  auto args = std::make_shared<std::pair<std::string, bool>>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("name", args->first, "Name")->required();
  cmd->add_flag("--json", args->second, "Machine-readable output");
  cmd->callback(
      [args, &state, run] { state.exit_code = run(state.global, args->first, args->second); });
}

}  // namespace

void RegisterTransportCommand(CLI::App& app, RunState& state) {
  CLI::App* transport = app.add_subcommand("transport", "Email transports (SMTP)");
  transport->require_subcommand(1);
  for (bool add : {true, false}) {
    auto o = std::make_shared<TransportOptions>();
    CLI::App* cmd = transport->add_subcommand(
        add ? "add" : "edit", add ? "Add an SMTP transport" : "Change a transport's settings");
    AddEndpointOptions(cmd, *o, add);
    cmd->add_option("--auth", o->auth, "none, password, xoauth2 or oauthbearer");
    cmd->callback([o, add, &state] { state.exit_code = RunTransportSave(state.global, *o, add); });
  }
  AddJsonCommand(transport, "list", "List transports", state, RunTransportList);
  AddNamedJsonCommand(transport, "show", "Show a transport", state, RunTransportShow);
  auto remove = std::make_shared<std::string>();
  CLI::App* cmd = transport->add_subcommand("remove", "Remove a transport");
  cmd->add_option("name", *remove, "Name")->required();
  cmd->callback([remove, &state] { state.exit_code = RunTransportRemove(state.global, *remove); });
  struct TestArgs {
    std::string name, to;
    bool trace = false;
  };
  auto test = std::make_shared<TestArgs>();
  cmd = transport->add_subcommand("test", "Connect and authenticate; --to also sends a message");
  cmd->add_option("name", test->name, "Name")->required();
  cmd->add_option("--to", test->to, "Send a short test message to this address");
  cmd->add_flag("--trace", test->trace, "Show the (redacted) SMTP conversation");
  cmd->callback([test, &state] {
    state.exit_code = RunTransportTest(state.global, test->name, test->to, test->trace);
  });
}

void RegisterMailboxCommand(CLI::App& app, RunState& state) {
  CLI::App* mailbox = app.add_subcommand("mailbox", "Email mailboxes (IMAP, POP3)");
  mailbox->require_subcommand(1);
  for (bool add : {true, false}) {
    auto o = std::make_shared<MailboxOptions>();
    CLI::App* cmd = mailbox->add_subcommand(
        add ? "add" : "edit", add ? "Add a mailbox to download from" : "Change a mailbox");
    AddEndpointOptions(cmd, *o, add);
    auto* protocol = cmd->add_option("--protocol", o->protocol, "imap or pop3");
    if (add) protocol->required();
    cmd->add_option("--auth", o->auth, "password, xoauth2 or oauthbearer");
    cmd->add_option("--folder", o->folder, "IMAP folder to download (default INBOX)");
    cmd->add_option("--after-download", o->after_download,
                    "delete (default), mark-seen, move:FOLDER or keep");
    cmd->add_option("--max-size-kb", o->max_size_kb,
                    "Larger messages stay on the server, with an alert (default 25600)");
    o->oversized_opt = cmd->add_flag("--download-oversized,!--keep-oversized", o->oversized_flag,
                                     "Download messages over the size limit too (or not)");
    cmd->add_option("--max-messages", o->max_messages, "Messages per check (default 500)");
    o->push_opt = cmd->add_flag("--push,!--no-push", o->push_flag,
                                "IMAP IDLE: new mail within a second (`mailgate watch`)");
    cmd->callback([o, add, &state] {
      if (o->push_opt->count() > 0) o->push = o->push_flag;
      if (o->oversized_opt->count() > 0) o->download_oversized = o->oversized_flag;
      state.exit_code = RunMailboxSave(state.global, *o, add);
    });
  }
  AddJsonCommand(mailbox, "list", "List mailboxes and their state", state, RunMailboxList);
  AddNamedJsonCommand(mailbox, "show", "Show a mailbox: settings and state", state, RunMailboxShow);
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = mailbox->add_subcommand("remove", "Remove a mailbox (conversations stay)");
  cmd->add_option("name", *name, "Name")->required();
  cmd->callback([name, &state] { state.exit_code = RunMailboxRemove(state.global, *name); });
  for (bool enabled : {true, false}) {
    cmd = mailbox->add_subcommand(enabled ? "enable" : "disable",
                                  enabled ? "Check this mailbox again" : "Stop checking it");
    cmd->add_option("name", *name, "Name")->required();
    cmd->callback([name, enabled, &state] {
      state.exit_code = RunMailboxEnable(state.global, *name, enabled);
    });
  }
  auto test = std::make_shared<std::pair<std::string, bool>>();
  cmd = mailbox->add_subcommand("test", "Connect, authenticate and look at the folder");
  cmd->add_option("name", test->first, "Name")->required();
  cmd->add_flag("--trace", test->second, "Show the (redacted) protocol conversation");
  cmd->callback([test, &state] {
    state.exit_code = RunMailboxTest(state.global, test->first, test->second);
  });
}

}  // namespace mailgate::cli
