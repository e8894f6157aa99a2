// Prerequisite checks for integration tests: a missing prerequisite is a failure under CI
// (CI=true) and a skip elsewhere, with a message naming what is missing.
#ifndef LABVIRT_TESTS_SUPPORT_PREREQ_H_
#define LABVIRT_TESTS_SUPPORT_PREREQ_H_

#include "gtest/gtest.h"
#include "tests/support/fixture_domain.h"

#define LABVIRT_REQUIRE(cond, what)                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      if (::labvirt::testing::InCi()) {                                                  \
        FAIL() << "prerequisite missing under CI: " << what;                             \
      } else {                                                                           \
        GTEST_SKIP() << "prerequisite missing: " << what << " (run ./tools/setup-host)"; \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#endif  // LABVIRT_TESTS_SUPPORT_PREREQ_H_
