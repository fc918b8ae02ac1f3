#include "support/test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace mailgate::testing {

namespace {

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what);
}

void WriteKey(EVP_PKEY* key, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "open key file");
  Check(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "write key");
  std::fclose(f);
}

void WriteCert(X509* cert, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "open cert file");
  Check(PEM_write_X509(f, cert) == 1, "write cert");
  std::fclose(f);
}

EVP_PKEY* ReadKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  Check(f != nullptr, "open key");
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  Check(k != nullptr, "read key");
  return k;
}

X509* ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  Check(f != nullptr, "open cert");
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  Check(c != nullptr, "read cert");
  return c;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

bool IsIpv4(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

TestCerts::TestCerts() {
  char tmpl[] = "/tmp/mailgate-certs-XXXXXX";
  Check(mkdtemp(tmpl) != nullptr, "mkdtemp");
  dir_ = tmpl;
}

TestCerts::~TestCerts() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

CertFiles TestCerts::MakeCa(const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Check(key != nullptr, "key");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++counter_ + 1000);
  X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 365);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509_set_pubkey(cert, key);
  AddExt(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(cert, cert, NID_subject_key_identifier, "hash");
  Check(X509_sign(cert, key, EVP_sha256()) > 0, "sign");
  CertFiles out{dir_ + "/ca" + std::to_string(counter_) + ".pem",
                dir_ + "/ca" + std::to_string(counter_) + ".key"};
  WriteCert(cert, out.cert);
  WriteKey(key, out.key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

CertFiles TestCerts::MakeLeaf(const CertFiles& ca, const std::vector<std::string>& names,
                              int not_before_days, int not_after_days) {
  EVP_PKEY* ca_key = ReadKey(ca.key);
  X509* ca_cert = ReadCert(ca.cert);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++counter_ + 1000);
  X509_gmtime_adj(X509_getm_notBefore(cert), 86400L * not_before_days);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * not_after_days);
  X509_NAME* subject = X509_get_subject_name(cert);
  const std::string cn = names.empty() ? "nobody" : names[0];
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(ca_cert));
  X509_set_pubkey(cert, key);
  std::string san;
  for (const std::string& n : names) {
    if (!san.empty()) san += ",";
    san += (IsIpv4(n) ? "IP:" : "DNS:") + n;
  }
  if (!san.empty()) AddExt(cert, ca_cert, NID_subject_alt_name, san);
  AddExt(cert, ca_cert, NID_basic_constraints, "CA:FALSE");
  AddExt(cert, ca_cert, NID_ext_key_usage, "serverAuth");
  Check(X509_sign(cert, ca_key, EVP_sha256()) > 0, "sign leaf");
  CertFiles out{dir_ + "/leaf" + std::to_string(counter_) + ".pem",
                dir_ + "/leaf" + std::to_string(counter_) + ".key"};
  WriteCert(cert, out.cert);
  WriteKey(key, out.key);
  X509_free(cert);
  EVP_PKEY_free(key);
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return out;
}

}  // namespace mailgate::testing
