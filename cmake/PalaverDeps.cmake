# Third-party dependencies, all from Debian 12 packages (see debian/control and scripts/deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(tl-expected REQUIRED)
find_package(Poco REQUIRED COMPONENTS Foundation JSON Net NetSSL)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
# OpenLDAP's client library (libldap-dev): the directory module's LDAP backend.
pkg_check_modules(LDAP REQUIRED IMPORTED_TARGET ldap)
if(PALAVER_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
