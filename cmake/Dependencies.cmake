# Every dependency comes from Debian 12's packages (scripts/install-deps).
find_package(Threads REQUIRED)
find_package(Boost 1.81 EXACT REQUIRED COMPONENTS json url)
find_package(OpenSSL 3 REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET gmime-3.0)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

# Asio is header-only; these definitions keep its heavy parts out of headers
# that do not ask for them and select the standalone error-code behaviour we use.
add_library(mailgate_asio INTERFACE)
target_link_libraries(mailgate_asio INTERFACE Boost::headers Threads::Threads
                                              OpenSSL::SSL OpenSSL::Crypto)
target_compile_definitions(mailgate_asio INTERFACE BOOST_ASIO_NO_DEPRECATED
                                                   BOOST_BEAST_USE_STD_STRING_VIEW)
