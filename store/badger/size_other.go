//go:build !(linux || darwin || freebsd)

package badger

import "io/fs"

// allocated returns a file's apparent length: allocated space is unknown
// here.
func allocated(info fs.FileInfo) int64 {
	return info.Size()
}
