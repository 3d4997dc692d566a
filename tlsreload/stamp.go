package tlsreload

import (
	"os"
	"time"
)

// stamp is what a file looked like on disk: enough to notice a rewrite in
// place (size, modification time) or a replacement by rename or symlink swap
// (another file), without reading it.
type stamp struct {
	cert, key fileStamp
}

type fileStamp struct {
	info    os.FileInfo // nil when the file could not be stat'ed
	size    int64
	modTime time.Time
}

// stat stamps both files, following symlinks as loading them does.
func (r *Reloader) stat() stamp {
	return stamp{cert: statFile(r.cfg.CertFile), key: statFile(r.cfg.KeyFile)}
}

func statFile(name string) fileStamp {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{info: fi, size: fi.Size(), modTime: fi.ModTime()}
}

func (s stamp) equal(o stamp) bool { return s.cert.equal(o.cert) && s.key.equal(o.key) }

func (f fileStamp) equal(o fileStamp) bool {
	if f.info == nil || o.info == nil {
		return f.info == nil && o.info == nil
	}
	return os.SameFile(f.info, o.info) && f.size == o.size && f.modTime.Equal(o.modTime)
}
