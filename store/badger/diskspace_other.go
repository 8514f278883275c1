//go:build !(linux || darwin || freebsd)

package badger

import "errors"

// freeSpace is unsupported here; Free reports -1 and the check is skipped.
func freeSpace(string) (int64, error) {
	return -1, errors.New("free space unknown on this platform")
}
