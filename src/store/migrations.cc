#include "store/migrations.h"

#include <array>
#include <utility>

namespace mailgate::store {
namespace {

// Times are BIGINT Unix seconds and flags INTEGER 0/1 on both backends.
// Columns ending in _sealed hold Vault ciphertexts, never plaintext.
constexpr std::array kMigrations = {
    Migration{1, "mailboxes",
              R"sql(
CREATE TABLE mailboxes (
  id ID_PRIMARY_KEY,
  name TEXT NOT NULL UNIQUE,
  enabled INTEGER NOT NULL DEFAULT 1
);
)sql"},
    Migration{2, "connected accounts and alerts",
              R"sql(
CREATE TABLE accounts (
  name TEXT PRIMARY KEY,
  provider TEXT NOT NULL CHECK (provider IN ('microsoft', 'google', 'generic')),
  authority TEXT NOT NULL DEFAULT '',
  tenant TEXT NOT NULL DEFAULT '',
  client_id TEXT NOT NULL,
  client_secret_sealed TEXT,
  scopes TEXT NOT NULL DEFAULT '',
  auth_url TEXT NOT NULL DEFAULT '',
  token_url TEXT NOT NULL DEFAULT '',
  device_url TEXT NOT NULL DEFAULT '',
  flow TEXT NOT NULL DEFAULT '',
  grant_token_url TEXT NOT NULL DEFAULT '',
  refresh_token_sealed TEXT,
  access_token_sealed TEXT,
  access_expires_at BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'not_authorized'
    CHECK (status IN ('not_authorized', 'ok', 'degraded', 'reauthorization_required')),
  last_error TEXT NOT NULL DEFAULT '',
  last_error_code TEXT NOT NULL DEFAULT '',
  last_refresh_at BIGINT NOT NULL DEFAULT 0,
  failure_count INTEGER NOT NULL DEFAULT 0,
  retry_at BIGINT NOT NULL DEFAULT 0,
  lease_holder TEXT,
  lease_expires_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE TABLE alerts (
  id ID_PRIMARY_KEY,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  resolved_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX alerts_by_subject ON alerts (subject, resolved_at);
)sql"},
    // Migration 1's mailboxes table held only names and nothing could create
    // rows in it yet: it is replaced by the full configuration.
    Migration{3, "transports, mailboxes, downloads, conversations, messages, runs",
              R"sql(
DROP TABLE mailboxes;
CREATE TABLE transports (
  id ID_PRIMARY_KEY,
  name TEXT NOT NULL UNIQUE,
  host TEXT NOT NULL,
  port INTEGER NOT NULL DEFAULT 0,
  encryption TEXT NOT NULL CHECK (encryption IN ('starttls', 'tls', 'none')),
  auth TEXT NOT NULL CHECK (auth IN ('none', 'password', 'xoauth2', 'oauthbearer')),
  username TEXT NOT NULL DEFAULT '',
  password_sealed TEXT,
  account TEXT NOT NULL DEFAULT '',
  timeout_seconds INTEGER NOT NULL DEFAULT 30,
  created_at BIGINT NOT NULL
);
CREATE TABLE mailboxes (
  id ID_PRIMARY_KEY,
  name TEXT NOT NULL UNIQUE,
  enabled INTEGER NOT NULL DEFAULT 1,
  protocol TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3')),
  host TEXT NOT NULL,
  port INTEGER NOT NULL DEFAULT 0,
  encryption TEXT NOT NULL CHECK (encryption IN ('starttls', 'tls', 'none')),
  username TEXT NOT NULL,
  auth TEXT NOT NULL CHECK (auth IN ('password', 'xoauth2', 'oauthbearer')),
  password_sealed TEXT,
  account TEXT NOT NULL DEFAULT '',
  folder TEXT NOT NULL DEFAULT 'INBOX',
  after_download TEXT NOT NULL DEFAULT 'delete',
  max_size_kb BIGINT NOT NULL DEFAULT 25600,
  download_oversized INTEGER NOT NULL DEFAULT 0,
  timeout_seconds INTEGER NOT NULL DEFAULT 30,
  max_messages_per_run INTEGER NOT NULL DEFAULT 500,
  push INTEGER NOT NULL DEFAULT 0,
  checked_at BIGINT NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  delayed_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  last_success_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE TABLE downloads (
  id ID_PRIMARY_KEY,
  mailbox_id BIGINT NOT NULL,
  uidvalidity BIGINT NOT NULL,
  uid TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  spool_path TEXT NOT NULL,
  internal_date BIGINT NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('pending', 'processed', 'quarantined', 'duplicate')),
  action_done INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  downloaded_at BIGINT NOT NULL,
  processed_at BIGINT NOT NULL DEFAULT 0,
  UNIQUE (mailbox_id, uidvalidity, uid)
);
CREATE INDEX downloads_by_state ON downloads (state, id);
CREATE INDEX downloads_by_hash ON downloads (mailbox_id, sha256);
CREATE INDEX downloads_by_path ON downloads (spool_path);
CREATE TABLE conversations (
  id ID_PRIMARY_KEY,
  mask TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  mailbox_id BIGINT NOT NULL DEFAULT 0,
  message_count INTEGER NOT NULL DEFAULT 0,
  last_from TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_by_update ON conversations (updated_at, id);
CREATE TABLE messages (
  id ID_PRIMARY_KEY,
  conversation_id BIGINT NOT NULL REFERENCES conversations (id),
  mailbox_id BIGINT NOT NULL DEFAULT 0,
  download_id BIGINT UNIQUE,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  message_id TEXT NOT NULL,
  message_id_generated INTEGER NOT NULL DEFAULT 0,
  in_reply_to TEXT NOT NULL DEFAULT '',
  refs TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  from_addrs TEXT NOT NULL DEFAULT '',
  reply_to_addrs TEXT NOT NULL DEFAULT '',
  to_addrs TEXT NOT NULL DEFAULT '',
  cc_addrs TEXT NOT NULL DEFAULT '',
  return_path TEXT NOT NULL DEFAULT '',
  date BIGINT NOT NULL DEFAULT 0,
  date_generated INTEGER NOT NULL DEFAULT 0,
  text_body TEXT NOT NULL DEFAULT '',
  html_body TEXT NOT NULL DEFAULT '',
  text_from_html INTEGER NOT NULL DEFAULT 0,
  auto_submitted INTEGER NOT NULL DEFAULT 0,
  auto_submitted_reason TEXT NOT NULL DEFAULT '',
  is_bounce INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT NOT NULL DEFAULT '',
  size BIGINT NOT NULL DEFAULT 0,
  thread_reason TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX messages_by_message_id ON messages (message_id);
CREATE INDEX messages_by_conversation ON messages (conversation_id, date, id);
CREATE TABLE blobs (
  sha256 TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  data BLOB_TYPE NOT NULL
);
CREATE TABLE attachments (
  id ID_PRIMARY_KEY,
  message_id BIGINT NOT NULL REFERENCES messages (id),
  position INTEGER NOT NULL,
  filename TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  content_id TEXT NOT NULL DEFAULT '',
  is_inline INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT NOT NULL REFERENCES blobs (sha256),
  size BIGINT NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id, position);
CREATE TABLE undeliverable_addresses (
  email TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  diagnostic TEXT NOT NULL DEFAULT '',
  message_id BIGINT NOT NULL DEFAULT 0,
  reported_at BIGINT NOT NULL
);
CREATE TABLE runs (
  id ID_PRIMARY_KEY,
  job TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'running',
  summary TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_job ON runs (job, id);
CREATE TABLE run_log (
  id ID_PRIMARY_KEY,
  run_id BIGINT NOT NULL,
  at_ms BIGINT NOT NULL,
  level TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX run_log_by_run ON run_log (run_id, id);
)sql"},
    // Version 4 belongs to the web console (src/web); 5 to the scheduler.
    Migration{4, "console users, sessions, login failures and API tokens",
              R"sql(
CREATE TABLE console_users (
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  password_changed_at BIGINT NOT NULL
);
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_name);
CREATE TABLE login_failures (
  id ID_PRIMARY_KEY,
  throttle_key TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (throttle_key, at);
CREATE TABLE api_tokens (
  name TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL DEFAULT 0
);
)sql"},
    Migration{5, "scheduler jobs, mailbox leases, outgoing mail",
              R"sql(
CREATE TABLE jobs (
  name TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL DEFAULT 1,
  interval_seconds BIGINT NOT NULL CHECK (interval_seconds > 0),
  last_run_at BIGINT NOT NULL DEFAULT 0,
  next_run_at BIGINT NOT NULL DEFAULT 0,
  run_requested INTEGER NOT NULL DEFAULT 0,
  lease_holder TEXT,
  lease_expires_at BIGINT NOT NULL DEFAULT 0,
  last_status TEXT NOT NULL DEFAULT '',
  last_summary TEXT NOT NULL DEFAULT '',
  last_duration_ms BIGINT NOT NULL DEFAULT 0
);
INSERT INTO jobs (name, interval_seconds) VALUES
  ('check', 60), ('process', 10), ('outgoing', 30), ('tokens', 300), ('maintenance', 86400);
ALTER TABLE mailboxes ADD COLUMN check_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN lease_holder TEXT;
ALTER TABLE mailboxes ADD COLUMN lease_expires_at BIGINT NOT NULL DEFAULT 0;
CREATE TABLE outgoing (
  id ID_PRIMARY_KEY,
  transport TEXT NOT NULL DEFAULT '',
  mail_from TEXT NOT NULL,
  recipients TEXT NOT NULL,
  message_id TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  conversation_id BIGINT NOT NULL DEFAULT 0,
  raw BLOB_TYPE NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  results TEXT NOT NULL DEFAULT '',
  stored INTEGER NOT NULL DEFAULT 0,
  lease_holder TEXT,
  lease_expires_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  sent_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);
CREATE INDEX outgoing_by_state ON outgoing (state, next_attempt_at, id);
CREATE INDEX runs_by_finish ON runs (finished_at);
)sql"},
    Migration{6, "pending Connect authorizations of the console",
              R"sql(
CREATE TABLE pending_authorizations (
  state TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  session_hash TEXT NOT NULL,
  code_verifier_sealed TEXT,
  redirect_uri TEXT NOT NULL,
  token_url TEXT NOT NULL,
  scopes TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX pending_authorizations_by_expiry ON pending_authorizations (expires_at);
)sql"},
    // SQLite keeps new attachment bytes in pack files
    // (store/attachment_files.h): their rows name the pack and the offset, with
    // an empty `data`. Rows from before keep their bytes in `data`.
    Migration{7, "attachment bytes in pack files",
              R"sql(
ALTER TABLE blobs ADD COLUMN pack TEXT NOT NULL DEFAULT '';
ALTER TABLE blobs ADD COLUMN pack_offset BIGINT NOT NULL DEFAULT 0;
)sql"},
};

}  // namespace

std::span<const Migration> Migrations() {
  return kMigrations;
}

std::string Migration::SqlFor(std::string_view backend) const {
  const bool pg = backend == "postgresql";
  // The spellings the backends do not share. SQLite's INTEGER PRIMARY KEY is
  // its rowid; PostgreSQL says it with an identity column.
  const std::pair<std::string_view, std::string_view> tokens[] = {
      {"ID_PRIMARY_KEY",
       pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY"},
      {"BLOB_TYPE", pg ? "BYTEA" : "BLOB"},
  };
  std::string out(sql);
  for (const auto& [token, spelling] : tokens) {
    for (auto pos = out.find(token); pos != std::string::npos; pos = out.find(token, pos)) {
      out.replace(pos, token.size(), spelling);
      pos += spelling.size();
    }
  }
  return out;
}

}  // namespace mailgate::store
