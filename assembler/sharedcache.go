package assembler

import "github.com/assemble-build/assemble/layers"

// WithSharedCache adds a cache shared between machines (the CLI's
// --cache-from and --cache-to, layers/remotecache): asked after the local
// cache misses, and told of every layer a build uses. The caller writes it
// out (remotecache.Caches.Flush) once the build is done.
func WithSharedCache(s layers.Shared) Option {
	return set(func(o *options) { o.shared = s })
}
