//go:build linux || darwin || freebsd

package badger

import (
	"io/fs"
	"syscall"
)

// allocated returns the disk space allocated to a file.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512 //nolint:unconvert
	}
	return info.Size()
}
