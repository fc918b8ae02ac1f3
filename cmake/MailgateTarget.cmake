# Helpers that give every target of ours the same warnings, include root and
# optional clang-tidy run. Third-party headers come in as SYSTEM includes so
# their warnings never fail our build.

if(MAILGATE_CLANG_TIDY)
  find_program(MAILGATE_CLANG_TIDY_EXE NAMES clang-tidy clang-tidy-14 REQUIRED)
endif()

function(mailgate_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wimplicit-fallthrough)
  # g++ 12 reports false maybe-uninitialized warnings inside std::variant and
  # std::optional, false -Wrestrict ones in std::string concatenation (GCC
  # bugs 105562, 107919, 105329), and false mismatched-new-delete ones on
  # Asio's coroutine frames (which pair their own operator new and delete).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-restrict
                                             -Wno-mismatched-new-delete)
  endif()
  if(MAILGATE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(MAILGATE_CLANG_TIDY)
    # clang-tidy parses g++'s command line: g++-only warning flags are not errors.
    set_target_properties(${target} PROPERTIES CXX_CLANG_TIDY
                          "${MAILGATE_CLANG_TIDY_EXE};--extra-arg=-Wno-unknown-warning-option")
  endif()
endfunction()

# mailgate_library(NAME SOURCES... [DEPS ...] [PRIVATE_DEPS ...])
# One static library per module; includes are rooted at src/ so code says
# #include "base/status.h".
function(mailgate_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(mailgate_${name} STATIC ${ARG_SOURCES})
  add_library(mailgate::${name} ALIAS mailgate_${name})
  target_include_directories(mailgate_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(mailgate_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  mailgate_target_defaults(mailgate_${name})
endfunction()

# Unit tests of a module join the one unit-test executable.
function(mailgate_unit_tests)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  target_sources(mailgate_unit_tests PRIVATE ${ARG_SOURCES})
  target_link_libraries(mailgate_unit_tests PRIVATE ${ARG_DEPS})
endfunction()
