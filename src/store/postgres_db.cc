// PostgreSQL driver over libpq: text parameters and results (binary for
// BYTEA parameters), one connection.
#include <libpq-fe.h>

#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/db.h"

namespace mailgate::store {
namespace {

// "?" -> "$n" outside string literals.
std::string Renumber(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  bool in_literal = false;
  for (char c : sql) {
    if (c == '\'') in_literal = !in_literal;
    if (c == '?' && !in_literal) {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

// pg_type.oid of bytea.
constexpr Oid kByteaOid = 17;

// A BYTEA result in text format: \x and hex digits (the default since
// PostgreSQL 9.0), or the older escape format, which libpq decodes.
std::optional<std::string> DecodeBytea(const char* text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const std::string_view s(text);
  if (s.starts_with("\\x")) {
    if (s.size() % 2 != 0) return std::nullopt;
    std::string out;
    out.reserve((s.size() - 2) / 2);
    for (size_t i = 2; i < s.size(); i += 2) {
      const int hi = nibble(s[i]), lo = nibble(s[i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>((hi << 4) | lo);
    }
    return out;
  }
  size_t len = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &len);
  if (!raw) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(raw), len);
  PQfreemem(raw);
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class PostgresDb final : public Db {
 public:
  explicit PostgresDb(PGconn* conn) : conn_(conn) {}
  ~PostgresDb() override { PQfinish(conn_); }

  std::string_view backend() const override { return "postgresql"; }

  StatusOr<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    // Types 0 (let the server infer) and text format, except for blobs: those
    // go as binary BYTEA, so any byte (NUL included) arrives unchanged.
    std::vector<Oid> types(params.size(), 0);
    std::vector<int> lengths(params.size(), 0);
    std::vector<int> formats(params.size(), 0);
    for (size_t i = 0; i < params.size(); ++i) {
      if (std::holds_alternative<std::nullptr_t>(params[i])) {
        values[i] = nullptr;
        continue;
      }
      if (auto* b = std::get_if<SqlBlob>(&params[i])) {
        if (b->bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
          return Status::InvalidArgument("a value of more than 2 GiB cannot be stored");
        }
        types[i] = kByteaOid;
        formats[i] = 1;
        lengths[i] = static_cast<int>(b->bytes.size());
        values[i] = b->bytes.data();  // never NULL, even when empty
        continue;
      }
      if (auto* n = std::get_if<int64_t>(&params[i])) {
        text[i] = std::to_string(*n);
      } else {
        text[i] = std::get<std::string>(params[i]);
      }
      values[i] = text[i].c_str();
    }
    const std::string q = Renumber(sql);
    PGresult* res = PQexecParams(conn_, q.c_str(), static_cast<int>(params.size()), types.data(),
                                 values.data(), lengths.data(), formats.data(), 0);
    struct Clear {
      PGresult* r;
      ~Clear() { PQclear(r); }
    } clear{res};
    const ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error(res);
    SqlResult result;
    const int nrows = PQntuples(res), ncols = PQnfields(res);
    for (int r = 0; r < nrows; ++r) {
      SqlRow row(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res, r, c)) continue;
        if (PQftype(res, c) == kByteaOid) {
          auto bytes = DecodeBytea(PQgetvalue(res, r, c));
          if (!bytes) return Status::Io("PostgreSQL: a BYTEA value could not be decoded");
          row[c] = std::move(*bytes);
        } else {
          row[c] = std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c));
        }
      }
      result.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(res);
    if (affected && *affected) result.affected = std::stoll(affected);
    return result;
  }

  Status ExecScript(std::string_view sql) override {
    PGresult* res = PQexec(conn_, std::string(sql).c_str());
    Status s = Status::Ok();
    const ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) s = Error(res);
    PQclear(res);
    return s;
  }

  Status Begin() override { return ExecScript("BEGIN"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  void Rollback() override { (void)ExecScript("ROLLBACK"); }
  Status LockForMigration() override {
    // An arbitrary constant naming "Mailgate schema migrations"; released at
    // the end of the transaction.
    return ExecScript("SELECT pg_advisory_xact_lock(7424589301)");
  }

 private:
  Status Error(PGresult* res) {
    if (PQstatus(conn_) == CONNECTION_BAD) {
      PQreset(conn_);  // the next statement gets a fresh connection
      return Status::Transient("PostgreSQL connection lost: " + Trim(PQerrorMessage(conn_)) +
                               "; check that the server is running");
    }
    const char* sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg =
        "PostgreSQL: " + Trim(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
    if (sqlstate && std::string_view(sqlstate) == "23505") return Status::AlreadyExists(msg);
    if (sqlstate && std::string_view(sqlstate) == "23514") {
      // Only the primary line: the DETAIL line quotes the whole failing row.
      const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
      return Status::InvalidArgument(std::string("PostgreSQL: ") +
                                     (primary ? primary : "check failed"));
    }
    if (sqlstate &&
        (std::string_view(sqlstate) == "40001" || std::string_view(sqlstate) == "40P01")) {
      return Status::Transient(msg);
    }
    return Status::Io(msg);
  }

  PGconn* conn_;
};

// The URL without its password, for messages.
std::string Redact(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace

StatusOr<std::unique_ptr<Db>> OpenPostgresDb(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = Trim(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Connect("cannot connect to PostgreSQL at '" + Redact(url) + "': " + msg +
                           "; check the --db URL and that the server is running");
  }
  auto db = std::make_unique<PostgresDb>(conn);
  MAILGATE_RETURN_IF_ERROR(db->ExecScript("SET client_min_messages = warning"));
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace mailgate::store
