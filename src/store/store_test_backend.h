// The backends the Store suites run on (store_test.cc, store_mail_test.cc):
// SQLite always, PostgreSQL at MAILGATE_TEST_PG_URL (tests/servers/testenv).
// Each PostgreSQL test gets its own schema, so parallel runs never collide.
#ifndef MAILGATE_STORE_STORE_TEST_BACKEND_H_
#define MAILGATE_STORE_STORE_TEST_BACKEND_H_

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "store/db.h"
#include "store/store.h"

namespace mailgate::store::test {

inline std::string UniqueName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  return std::string(prefix) + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(::time(nullptr) % 100000);
}

inline std::shared_ptr<const Vault> NewVault() {
  return std::make_shared<Vault>(GenerateMasterKey());
}

// Where one test's database lives; Open() may be called several times (as
// several processes would) and every Store sees the same data.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual StatusOr<std::unique_ptr<Store>> Open(std::shared_ptr<const Vault> vault) = 0;
  // The raw database under the Store, to read columns as they are stored.
  virtual StatusOr<std::unique_ptr<Db>> OpenDb() = 0;
  // Every byte the backend wrote to disk or holds, for plaintext checks.
  virtual std::string Dump() = 0;
};

class SqliteBackend : public Backend {
 public:
  SqliteBackend() {
    dir_ = std::filesystem::temp_directory_path() / UniqueName("mailgate-store-");
    std::filesystem::create_directories(dir_);
  }
  ~SqliteBackend() override { std::filesystem::remove_all(dir_); }
  StatusOr<std::unique_ptr<Store>> Open(std::shared_ptr<const Vault> vault) override {
    return OpenSqliteStore(dir_ / "mailgate.db", std::move(vault));
  }
  StatusOr<std::unique_ptr<Db>> OpenDb() override { return OpenSqliteDb(dir_ / "mailgate.db"); }
  std::string Dump() override {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      all += ss.str();
    }
    return all;
  }

 private:
  std::filesystem::path dir_;
};

class PostgresBackend : public Backend {
 public:
  explicit PostgresBackend(std::string url) : url_(std::move(url)) {
    schema_ = UniqueName("mgtest_");
    Admin("CREATE SCHEMA " + schema_);
  }
  ~PostgresBackend() override {
    Admin("SET client_min_messages = warning; DROP SCHEMA " + schema_ + " CASCADE");
  }
  StatusOr<std::unique_ptr<Store>> Open(std::shared_ptr<const Vault> vault) override {
    return OpenPostgresStore(SchemaUrl(), std::move(vault));
  }
  StatusOr<std::unique_ptr<Db>> OpenDb() override { return OpenPostgresDb(SchemaUrl()); }
  std::string Dump() override {
    // Every row of the tables that hold secrets (and of alerts), as text.
    std::string sql;
    for (std::string_view table :
         {"accounts", "alerts", "transports", "mailboxes", "pending_authorizations"}) {
      if (!sql.empty()) sql += " UNION ALL ";
      sql += "SELECT t::text FROM ";
      sql += schema_;
      sql += '.';
      sql += table;
      sql += " t";
    }
    return Admin(sql);
  }

 private:
  std::string SchemaUrl() const {
    const char sep = url_.find('?') == std::string::npos ? '?' : '&';
    return url_ + sep + "options=-csearch_path%3D" + schema_;
  }
  std::string Admin(const std::string& sql) {
    PGconn* c = PQconnectdb(url_.c_str());
    std::string out;
    PGresult* r = PQexec(c, sql.c_str());
    for (int i = 0; i < PQntuples(r); ++i) out += PQgetvalue(r, i, 0);
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return out;
  }
  std::string url_;
  std::string schema_;
};

// A fixture parameterised by backend name ("sqlite" or "postgresql"): a
// fresh database and an open Store for every test. Suites derive from it
// and instantiate with BackendNames().
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      const char* url = std::getenv("MAILGATE_TEST_PG_URL");
      ASSERT_TRUE(url && *url)
          << "MAILGATE_TEST_PG_URL is not set: start the servers: tests/servers/testenv start, "
             "then `. $dir/env.sh`";
      backend_ = std::make_unique<PostgresBackend>(url);
    }
    vault_ = NewVault();
    auto s = backend_->Open(vault_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<const Vault> vault_;
  std::unique_ptr<Store> store_;
};

inline auto BackendNames() {
  return ::testing::Values("sqlite", "postgresql");
}

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& p) {
  return p.param;
}

}  // namespace mailgate::store::test

#endif  // MAILGATE_STORE_STORE_TEST_BACKEND_H_
