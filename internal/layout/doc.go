// Package layout holds no code: its test checks the import rules of the
// repo's layout (README, "Layout") with `go list -deps`, so a package that
// reaches past its place fails the build's tests.
package layout
