//go:build !linux

package git

import "io/fs"

// StatOf has no stat data to offer off Linux: every file is read there.
func StatOf(fs.FileInfo) (FileStat, bool) { return FileStat{}, false }
