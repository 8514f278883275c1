package badger

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Size returns the disk space the inbox's files take, in bytes: the space
// allocated to them, not their apparent length, because Badger creates
// its value log and memtable files at full size and fills them sparsely
// (an empty store has 160 MiB of apparent length in a few KiB of disk).
// Where the platform cannot tell allocated space it falls back to the
// apparent length. It walks the directory each time, which costs one
// stat per file; Badger keeps few, large files.
func (in *Store) Size() (int64, error) {
	var total int64
	err := filepath.WalkDir(in.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				// Compaction and value log GC remove files as we go.
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		total += allocated(info)
		return nil
	})
	return total, err
}
