// Package archtest holds the tests of the module's shape, which no single
// package can check about itself: the dependency rules between the
// packages (deps_test.go, over `go list`) and the size of every
// package's non-test Go files, at most 600 lines (size_test.go). It has no
// code of its own.
//
// The rules, in short (docs/architecture.md explains them):
//   - api does not import store; handlers reach the registry only through
//     lifecycle and staff.
//   - The domain (lifecycle, card, org, staff, audit) imports no HTTP
//     package and no SQL driver.
//   - store imports neither chain nor signer nor lifecycle: it keeps
//     records and decides no rule.
//   - The application half is layered: org → card → audit → staff →
//     lifecycle, store → api, config → cmd; a package imports only lower
//     layers. Every other package of the module (the cryptographic half,
//     utilities) may use org and card, and nothing else of the
//     application.
//   - Test support (storetest, lifecycletest, …) is imported by tests
//     only.
package archtest
